#include "kafka/properties.h"

#include <gtest/gtest.h>

#include "kafka/common.h"

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

TEST(PropertiesTest, KeyValueSeparatedByBlanksIsAccepted) {
  // java.util.Properties: '=', ':' or blanks separate key and value; a bare key is "".
  auto p = ParseProperties(
      "sasl.username alice\n"
      "sasl.password\t\thunter2\n"
      "security.protocol   =   SASL_SSL\n"
      "acks :all\n"
      "enable.idempotence\n",
      "client.properties", FakeEnv());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("sasl.username"), "alice");
  EXPECT_EQ(p->at("sasl.password"), "hunter2");
  EXPECT_EQ(p->at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(p->at("acks"), "all");
  EXPECT_EQ(p->at("enable.idempotence"), "");
}

TEST(PropertiesTest, EscapedTrailingBackslashDoesNotContinueTheLine) {
  // An even number of trailing backslashes is escaped backslashes, not a continuation.
  auto p =
      ParseProperties("ssl.ca.location=C:\\\\certs\\\\\nsasl.username=alice\n", "f", FakeEnv());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("ssl.ca.location"), "C:\\certs\\");
  EXPECT_EQ(p->at("sasl.username"), "alice");
  // An odd number: an escaped backslash, then a continuation.
  auto q = ParseProperties("a=x\\\\\\\n  y\nb=2\n", "f", FakeEnv());
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->at("a"), "x\\y");
  EXPECT_EQ(q->at("b"), "2");
}

TEST(PropertiesTest, JavaEscapesAndLineEndings) {
  auto p = ParseProperties(
      "k\\=ey\\ 1 = a\\tb\\u00e9\\uD83D\\uDE00\\ \r"
      "# comment \\\n"
      "after.comment=1\r\n"
      "trailing = kept\\ \t  \n"
      "cont = one \\\n"
      "   # not a comment\n"
      "last = end\\",
      "f", FakeEnv());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("k=ey 1"), "a\tb\xC3\xA9\xF0\x9F\x98\x80 ");
  EXPECT_EQ(p->at("after.comment"), "1");
  EXPECT_EQ(p->at("trailing"), "kept ");
  EXPECT_EQ(p->at("cont"), "one # not a comment");
  EXPECT_EQ(p->at("last"), "end");
  EXPECT_EQ(p->size(), 5u);
}

TEST(PropertiesTest, ErrorsNeverPrintAValue) {
  for (const char* text : {"sasl.password=hunter2${UNCLOSED\n", "sasl.password=hunter2\\u12\n",
                           "sasl.password=hunter2\\uD800x\n", "sasl.password=hunter2${}\n",
                           "sasl.password=hunter2${NOPE}\n", "=hunter2\n"}) {
    auto p = ParseProperties(text, "client.properties", FakeEnv());
    ASSERT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(p.status().message().find("hunter2"), std::string::npos) << p.status();
    EXPECT_NE(p.status().message().find("client.properties:1"), std::string::npos) << p.status();
  }
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

TEST(PropertiesTest, PropertyRejectedByLibrdkafkaHidesASecretValue) {
  // Before, only keys with "password" or "secret" were hidden; an API key or token
  // rejected by librdkafka was printed in full.
  for (const char* key : {"my.api.key", "sasl.oauthbearer.token", "my.password"}) {
    ClientConfig c;
    c.url = "kafka://h:9092";
    c.bootstrap = "h:9092";
    c.properties[key] = "hunter2";
    ClientOpaque opaque;
    auto conf = MakeConf(c, {}, {}, &opaque);
    ASSERT_EQ(conf.status().code(), absl::StatusCode::kInvalidArgument) << key;
    EXPECT_EQ(conf.status().message().find("hunter2"), std::string::npos) << conf.status();
    EXPECT_NE(conf.status().message().find(key), std::string::npos) << conf.status();
  }
}

}  // namespace
}  // namespace unibus::kafka_internal
