#include "cli/model_path.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace unibus::cli {
namespace {

class ModelPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / absl::StrCat("unibus-model-", getpid());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Touch(const std::string& name) {
    const auto p = dir_ / name;
    std::ofstream(p) << "model";
    return p.string();
  }
  std::filesystem::path dir_;
};

TEST_F(ModelPathTest, GivenPathWinsAndMustExist) {
  const std::string a = Touch("a.pt");
  const std::string b = Touch("b.pt");
  EXPECT_EQ(*FindModel(a, {b}), a);
  auto missing = FindModel((dir_ / "nope.pt").string(), {b});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "nope.pt' (--model)"));
}

TEST_F(ModelPathTest, FirstExistingPlaceElseEveryPlaceNamed) {
  const std::string missing = (dir_ / "missing.pt").string();
  const std::string second = Touch("second.pt");
  EXPECT_EQ(*FindModel("", {missing, second}), second);
  auto none = FindModel("", {missing, "/nonexistent/x.pt"});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(none.status().message(), missing));
  EXPECT_TRUE(absl::StrContains(none.status().message(), "/nonexistent/x.pt"));
}

TEST_F(ModelPathTest, DefaultsStartWithTheEnvironmentThenShareUnibus) {
  setenv("UNIBUS_MODEL", "/from/env.pt", 1);
  auto places = DefaultModelPlaces();
  unsetenv("UNIBUS_MODEL");
  ASSERT_GE(places.size(), 3u);
  EXPECT_EQ(places[0], "/from/env.pt");
  EXPECT_TRUE(absl::EndsWith(places[1], "/share/unibus/fashion_cnn.pt")) << places[1];
  EXPECT_EQ(places.back(), "models/fashion_cnn.pt");
  EXPECT_NE(DefaultModelPlaces()[0], "/from/env.pt");
}

}  // namespace
}  // namespace unibus::cli
