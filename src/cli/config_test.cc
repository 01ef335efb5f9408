#include "cli/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace unibus::cli {
namespace {

TEST(ConfigTest, ParsesBrokersDefaultAndTopics) {
  auto c = ParseConfig(
      "default: local\n"
      "brokers:\n"
      "  local: sqlite://unibus.db\n"
      "  prod: kafka://k1:9092,k2:9092\n"
      "topics: [images, predictions]\n",
      "unibus.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->default_broker, "local");
  EXPECT_EQ(c->brokers.at("prod"), "kafka://k1:9092,k2:9092");
  EXPECT_EQ(c->topics, (std::vector<std::string>{"images", "predictions"}));
}

TEST(ConfigTest, WrongShapesSayWhatIsExpected) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"brokers: {a: [x]}\n", "'brokers' must map names to URLs"},
      {"brokers: {[a]: x}\n", "'brokers' must map names to URLs"},
      {"topics: [a, {b: c}]\n", "'topics' must be a list of topic names"},
      {"default: [a]\nbrokers: {a: mem://}\n", "'default' must be a broker name"},
      {"default: b\nbrokers: {a: mem://}\n", "default broker 'b' is not listed"},
      {"- just a list\n", "expected a mapping"},
      {"brokers: {a: b\n", "unibus.yaml: "},
      {"broker: {a: mem://}\n", "unknown key 'broker' at the top level; the keys are"},
      {"brokers: {a: mem://}\ntopic: [x]\n", "unknown key 'topic'"},
      {"[a]: b\n", "unknown key '(not a name)'"},
  };
  for (const Case& c : cases) {
    auto got = ParseConfig(c.text, "unibus.yaml");
    ASSERT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(got.status().message().find(c.says), std::string::npos) << got.status();
  }
}

TEST(ConfigTest, DeepNestingIsAnErrorNotACrash) {
  auto got = ParseConfig(std::string(100000, '['), "unibus.yaml");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConfigTest, LoadConfigRefusesHugeAndMissingFiles) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("config_test_" + std::to_string(getpid())))
          .string();
  {
    std::ofstream out(path);
    out << "topics:\n";
    for (std::size_t n = 0; n <= kMaxConfigBytes / 8; ++n) out << "  - t" << n << "\n";
  }
  auto got = LoadConfig(path);
  std::filesystem::remove(path);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(got.status().message().find("is over 1048576 bytes"), std::string::npos)
      << got.status();
  EXPECT_EQ(LoadConfig(path).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace unibus::cli
