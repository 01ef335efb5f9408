#include "kafka/properties.h"

#include <gtest/gtest.h>

namespace unibus::kafka_internal {
namespace {

EnvLookup FakeEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (name == "CC_KEY") return std::string("ABC");
    if (name == "CC_SECRET") return std::string("s3=cr:et");
    return std::nullopt;
  };
}

TEST(PropertiesTest, ParsesConfluentCloudStyleFile) {
  auto p = ParseProperties(
      "# Required connection configs for Kafka producer, consumer, and admin\n"
      "bootstrap.servers=pkc-123.eu-west-1.aws.confluent.cloud:9092\n"
      "security.protocol = SASL_SSL\n"
      "sasl.mechanisms: PLAIN\n"
      "! another comment style\n"
      "\n"
      "sasl.username=${CC_KEY}\n"
      "sasl.password=${CC_SECRET}\n"
      "session.timeout.ms=45000\r\n",
      "client.properties", FakeEnv());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->size(), 6u);
  EXPECT_EQ(p->at("bootstrap.servers"), "pkc-123.eu-west-1.aws.confluent.cloud:9092");
  EXPECT_EQ(p->at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(p->at("sasl.mechanisms"), "PLAIN");
  EXPECT_EQ(p->at("sasl.username"), "ABC");
  EXPECT_EQ(p->at("sasl.password"), "s3=cr:et");
  EXPECT_EQ(p->at("session.timeout.ms"), "45000");
}

TEST(PropertiesTest, ContinuationLinesAndLiteralDollar) {
  auto p = ParseProperties("a=one,\\\n    two\nb=cost $${X} ok\n", "f", FakeEnv());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("a"), "one,two");
  EXPECT_EQ(p->at("b"), "cost ${X} ok");
}

TEST(PropertiesTest, MalformedLineReportsLineNumber) {
  auto p =
      ParseProperties("a=1\n# fine\nthis line has no separator\n", "client.properties", FakeEnv());
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("client.properties:3"), std::string::npos) << p.status();
}

TEST(PropertiesTest, MissingKeyAndUnsetVariableAreErrors) {
  auto a = ParseProperties("=value\n", "f", FakeEnv());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(a.status().message().find("f:1"), std::string::npos);
  auto b = ParseProperties("x=1\nsasl.password=${NOPE}\n", "f", FakeEnv());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(b.status().message().find("f:2"), std::string::npos);
  EXPECT_NE(b.status().message().find("NOPE"), std::string::npos);
  auto c = ParseProperties("x=${UNCLOSED\n", "f", FakeEnv());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PropertiesTest, MissingFileIsNotFound) {
  auto p = LoadPropertiesFile("/nonexistent/client.properties", FakeEnv());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace unibus::kafka_internal
