#include "vision/classifier.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vision/idx.h"

namespace unibus::vision {
namespace {

using ::testing::HasSubstr;

TEST(ClassifierTest, CommittedModelIsAccurateOnFirstThousandTestImages) {
  absl::StatusOr<Classifier> classifier = Classifier::Load(UNIBUS_MODEL_PATH);
  ASSERT_TRUE(classifier.ok()) << classifier.status();
  EXPECT_THAT(classifier->version(), HasSubstr("fashion-cnn-v2-"));
  absl::StatusOr<Dataset> test = LoadFashionMnist(UNIBUS_FASHION_MNIST_DIR, Split::kTest);
  ASSERT_TRUE(test.ok()) << test.status();
  constexpr std::size_t kImages = 1000;
  ASSERT_GE(test->size(), kImages);
  int correct = 0;
  for (std::size_t begin = 0; begin < kImages; begin += 16) {  // the pipeline's batch size
    const std::size_t n = std::min<std::size_t>(16, kImages - begin);
    absl::StatusOr<std::vector<Classification>> got = classifier->Classify(test->image(begin), n);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), n);
    for (std::size_t i = 0; i < n; ++i) {
      const Classification& c = (*got)[i];
      ASSERT_GE(c.class_index, 0);
      ASSERT_LT(c.class_index, kNumClasses);
      EXPECT_FLOAT_EQ(c.confidence, c.probabilities[c.class_index]);
      float sum = 0;
      for (float p : c.probabilities) sum += p;
      EXPECT_NEAR(sum, 1.0f, 1e-4f);
      correct += c.class_index == test->labels[begin + i];
    }
  }
  EXPECT_GE(correct / static_cast<double>(kImages), 0.90) << correct << " of " << kImages;
}

TEST(ClassifierTest, BatchingDoesNotChangeAnswers) {
  absl::StatusOr<Classifier> classifier = Classifier::Load(UNIBUS_MODEL_PATH);
  ASSERT_TRUE(classifier.ok()) << classifier.status();
  absl::StatusOr<Dataset> test = LoadFashionMnist(UNIBUS_FASHION_MNIST_DIR, Split::kTest);
  ASSERT_TRUE(test.ok()) << test.status();
  absl::StatusOr<std::vector<Classification>> batch = classifier->Classify(test->image(0), 300);
  ASSERT_TRUE(batch.ok()) << batch.status();
  for (std::size_t i : {0u, 17u, 299u}) {
    absl::StatusOr<std::vector<Classification>> one = classifier->Classify(test->image(i), 1);
    ASSERT_TRUE(one.ok()) << one.status();
    EXPECT_EQ((*one)[0].class_index, (*batch)[i].class_index);
    EXPECT_NEAR((*one)[0].confidence, (*batch)[i].confidence, 1e-4f);
  }
  EXPECT_TRUE(classifier->Classify(nullptr, 0).ok());
  EXPECT_EQ(classifier->Classify(nullptr, 2).status().code(), absl::StatusCode::kInvalidArgument);
}

// Folding batch norm and changing the layout changes only the float rounding.
TEST(ClassifierTest, EveryLayoutGivesTheReferenceAnswers) {
  absl::StatusOr<Dataset> test = LoadFashionMnist(UNIBUS_FASHION_MNIST_DIR, Split::kTest);
  ASSERT_TRUE(test.ok()) << test.status();
  constexpr std::size_t kImages = 200;
  absl::StatusOr<Classifier> reference =
      Classifier::Load(UNIBUS_MODEL_PATH, {.layout = InferenceLayout::kModule});
  ASSERT_TRUE(reference.ok()) << reference.status();
  absl::StatusOr<std::vector<Classification>> want = reference->Classify(test->image(0), kImages);
  ASSERT_TRUE(want.ok()) << want.status();
  for (InferenceLayout layout :
       {InferenceLayout::kFolded, InferenceLayout::kChannelsLast, InferenceLayout::kMkldnn}) {
    absl::StatusOr<Classifier> c = Classifier::Load(UNIBUS_MODEL_PATH, {.layout = layout});
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->version(), reference->version());
    for (std::size_t batch : {1u, 16u, 200u}) {
      for (std::size_t begin = 0; begin < kImages; begin += batch) {
        const std::size_t n = std::min(batch, kImages - begin);
        absl::StatusOr<std::vector<Classification>> got = c->Classify(test->image(begin), n);
        ASSERT_TRUE(got.ok()) << got.status();
        for (std::size_t i = 0; i < n; ++i) {
          const Classification& w = (*want)[begin + i];
          const Classification& g = (*got)[i];
          EXPECT_EQ(g.class_index, w.class_index) << "layout " << static_cast<int>(layout);
          for (int k = 0; k < kNumClasses; ++k) {
            ASSERT_NEAR(g.probabilities[k], w.probabilities[k], 1e-4f)
                << "layout " << static_cast<int>(layout) << " image " << begin + i;
          }
        }
      }
    }
  }
}

TEST(ClassifierTest, FlopsPerImageCountsEveryLayer) {
  // conv 1->24 at 28x28, 24->48 at 14x14, 48->96 at 7x7 (3x3), fc 1536->128->10.
  EXPECT_EQ(FlopsPerImage(),
            2 * (9 * 24 * 784 + 9 * 24 * 48 * 196 + 9 * 48 * 96 * 49 + 1536 * 128 + 128 * 10));
  absl::StatusOr<PeakGflops> peak = MeasurePeakGflops(128, 2, 1);
  ASSERT_TRUE(peak.ok()) << peak.status();
  EXPECT_GT(peak->blas, 0.0);
  EXPECT_GT(peak->onednn, 0.0) << "this LibTorch has oneDNN (the mkldnn layout runs on it)";
  EXPECT_EQ(MeasurePeakGflops(0, 2, 1).status().code(), absl::StatusCode::kInvalidArgument);
}

class BadModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("classifier_test_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(BadModelTest, MissingFileIsNotFound) {
  const std::string path = (dir_ / "nope.pt").string();
  absl::StatusOr<Classifier> c = Classifier::Load(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr(path));
  EXPECT_THAT(c.status().message(), HasSubstr("unibus train"));
}

TEST_F(BadModelTest, GarbageFileIsInvalidArgument) {
  std::string garbage;
  for (int i = 0; i < 5000; ++i) garbage += static_cast<char>((i * 7919) % 251);
  const std::string path = Write("garbage.pt", garbage);
  absl::StatusOr<Classifier> c = Classifier::Load(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr(path));
  EXPECT_THAT(c.status().message(), HasSubstr("not a unibus model file"));

  c = Classifier::Load(Write("empty.pt", ""));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BadModelTest, TruncatedModelIsAnError) {
  std::ifstream in(UNIBUS_MODEL_PATH, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 1000u);
  bytes.resize(bytes.size() / 2);
  absl::StatusOr<Classifier> c = Classifier::Load(Write("half.pt", bytes));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("half.pt"));
}

TEST_F(BadModelTest, DirectoryIsNotAModel) {
  absl::StatusOr<Classifier> c = Classifier::Load(dir_.string());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace unibus::vision
