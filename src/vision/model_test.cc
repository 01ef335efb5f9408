#include "vision/model.h"

#include <torch/serialize.h>
#include <torch/serialize/output-archive.h>

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vision/idx.h"

namespace unibus::vision {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class ModelFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("model_test_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(ModelFileTest, SaveThenLoadKeepsWeightsAndVersion) {
  torch::manual_seed(7);
  FashionCnn model;
  model->eval();
  const std::string path = Path("m.pt");
  ASSERT_TRUE(SaveModel(model, path).ok());
  absl::StatusOr<LoadedModel> loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->version, ModelVersion(model));
  EXPECT_THAT(loaded->version, StartsWith("fashion-cnn-v2-"));
  EXPECT_FALSE(loaded->model->is_training());
  std::uint8_t images[2 * kImageBytes];
  for (std::size_t i = 0; i < sizeof images; ++i) images[i] = static_cast<std::uint8_t>(i * 31);
  torch::NoGradGuard no_grad;
  torch::Tensor x = ImagesToTensor(images, 2);
  EXPECT_TRUE(torch::allclose(model->forward(x), loaded->model->forward(x)));
}

TEST_F(ModelFileTest, DifferentWeightsGiveDifferentVersions) {
  torch::manual_seed(1);
  FashionCnn a;
  torch::manual_seed(2);
  FashionCnn b;
  EXPECT_NE(ModelVersion(a), ModelVersion(b));
}

TEST_F(ModelFileTest, OtherArchitectureIsFailedPrecondition) {
  torch::serialize::OutputArchive archive;
  archive.write("unibus.format", c10::IValue(std::string("unibus-fashion-cnn")));
  archive.write("unibus.architecture", c10::IValue(std::string("fashion-cnn-v0: something else")));
  archive.save_to(Path("old.pt"));
  absl::StatusOr<LoadedModel> loaded = LoadModel(Path("old.pt"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(loaded.status().message(), HasSubstr("fashion-cnn-v0: something else"));
  EXPECT_THAT(loaded.status().message(), HasSubstr("unibus train"));
}

TEST_F(ModelFileTest, ForeignTorchArchiveIsInvalidArgument) {
  torch::nn::Linear other(3, 4);
  torch::save(other, Path("linear.pt"));
  absl::StatusOr<LoadedModel> loaded = LoadModel(Path("linear.pt"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(loaded.status().message(), HasSubstr("not a unibus model file"));
}

TEST_F(ModelFileTest, WrongShapesAreFailedPrecondition) {
  // The right header around a smaller network's weights.
  torch::serialize::OutputArchive archive;
  archive.write("unibus.format", c10::IValue(std::string("unibus-fashion-cnn")));
  archive.write("unibus.architecture", c10::IValue(std::string(kArchitecture)));
  torch::serialize::OutputArchive weights(archive.compilation_unit());
  FashionCnn model;
  for (const auto& p : model->named_parameters()) {
    weights.write(p.key(), torch::zeros({1}));
  }
  for (const auto& b : model->named_buffers()) weights.write(b.key(), b.value(), true);
  archive.write("model", weights);
  archive.save_to(Path("shapes.pt"));
  absl::StatusOr<LoadedModel> loaded = LoadModel(Path("shapes.pt"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(loaded.status().message(), HasSubstr("shape"));
}

TEST(ImagesToTensorTest, NormalisesAndFlips) {
  std::uint8_t image[kImageBytes] = {};
  image[0] = 255;  // top-left
  const std::uint8_t flip = 1;
  torch::Tensor plain = ImagesToTensor(image, 1);
  torch::Tensor flipped = ImagesToTensor(image, 1, &flip);
  ASSERT_EQ(plain.sizes(), (std::vector<std::int64_t>{1, 1, 28, 28}));
  EXPECT_NEAR(plain[0][0][0][0].item<float>(), (1.0f - 0.2860f) / 0.3530f, 1e-5f);
  EXPECT_NEAR(plain[0][0][0][1].item<float>(), -0.2860f / 0.3530f, 1e-5f);
  EXPECT_NEAR(flipped[0][0][0][27].item<float>(), plain[0][0][0][0].item<float>(), 1e-6f);
}

}  // namespace
}  // namespace unibus::vision
