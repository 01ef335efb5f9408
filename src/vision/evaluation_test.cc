#include "vision/evaluation.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace unibus::vision {
namespace {

ModelEvaluation Sample() {
  ModelEvaluation e;
  e.model_version = "fashion-cnn-v1-000000000000";
  // Class 0: 3 right, 1 called Shirt (6). Class 6: 1 right, 1 called T-shirt (0).
  for (int i = 0; i < 3; ++i) Tally(0, 0, e);
  Tally(0, 6, e);
  Tally(6, 6, e);
  Tally(6, 0, e);
  return e;
}

TEST(Evaluation, TallyCountsPerClassAndRefusesLabelsOutOfRange) {
  ModelEvaluation e = Sample();
  EXPECT_FALSE(Tally(10, 0, e));
  EXPECT_FALSE(Tally(0, -1, e));
  EXPECT_EQ(e.images, 6);
  EXPECT_EQ(e.correct, 4);
  EXPECT_DOUBLE_EQ(e.accuracy(), 4.0 / 6);
  EXPECT_DOUBLE_EQ(e.class_accuracy(0), 0.75);
  EXPECT_DOUBLE_EQ(e.class_accuracy(6), 0.5);
  EXPECT_DOUBLE_EQ(e.class_accuracy(3), 0);  // no images of class 3
  EXPECT_EQ(e.confusion[0][6], 1);
  EXPECT_EQ(e.confusion[6][0], 1);
}

TEST(Evaluation, CsvHasNamedRowsAndColumns) {
  const std::string path = absl::StrCat(testing::TempDir(), "/confusion-", getpid(), ".csv");
  ASSERT_TRUE(WriteConfusionCsv(Sample(), path).ok());
  std::ifstream in(path);
  std::string header, row0;
  std::getline(in, header);
  std::getline(in, row0);
  EXPECT_EQ(header,
            "true\\predicted,T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,"
            "Ankle boot");
  EXPECT_EQ(row0, "T-shirt/top,3,0,0,0,0,0,1,0,0,0");
  std::filesystem::remove(path);
}

TEST(Evaluation, CardGainsPerClassAccuracyAndMatrixButOnlyForItsModel) {
  const std::string path = absl::StrCat(testing::TempDir(), "/card-", getpid(), ".json");
  {
    std::ofstream out(path);
    out << R"({"model_version": "fashion-cnn-v1-000000000000", "test_accuracy": 0.5})";
  }
  ASSERT_TRUE(AddToModelCard(Sample(), path).ok());
  std::ifstream in(path);
  nlohmann::json card = nlohmann::json::parse(in);
  EXPECT_EQ(card["test_accuracy"], 0.5);  // kept
  EXPECT_DOUBLE_EQ(card["per_class_accuracy"]["T-shirt/top"].get<double>(), 0.75);
  EXPECT_EQ(card["confusion_matrix"][6][0], 1);
  EXPECT_EQ(card["confusion_matrix"].size(), 10u);

  ModelEvaluation other = Sample();
  other.model_version = "fashion-cnn-v1-ffffffffffff";
  absl::Status s = AddToModelCard(other, path);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_TRUE(absl::IsNotFound(AddToModelCard(Sample(), path + ".missing")));
  std::filesystem::remove(path);
}

TEST(Evaluation, MissingGnuplotScriptIsAClearError) {
  absl::Status s = RunGnuplotScript("/nonexistent/confusion.gp", "a.csv", "a.png");
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
}

}  // namespace
}  // namespace unibus::vision
