#include "core/policy.h"

#include <gtest/gtest.h>

#include "unibus/publisher.h"
#include "unibus/typed.h"

namespace unibus::core_internal {
namespace {

TEST(PolicyTest, Utf8) {
  for (const char* ok : {"", "abc", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                         "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"}) {
    EXPECT_TRUE(IsValidUtf8(ok)) << ok;
  }
  for (const char* bad : {"k\xffv", "\x80", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                          "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "\xe2\x82"}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << bad;
  }
}

TEST(PolicyTest, ReservedKeysAreTheLibrarysButTheEnvelopeIsPublishable) {
  EXPECT_TRUE(IsReservedAttribute(kDeadLetterReason));
  EXPECT_TRUE(IsReservedAttribute(kDeadLetterSourceTopic));
  EXPECT_TRUE(IsReservedAttribute(kDeadLetterAttempts));
  EXPECT_TRUE(IsReservedAttribute("unibus-anything"));
  EXPECT_FALSE(IsReservedAttribute(kTypeAttribute));
  EXPECT_FALSE(IsReservedAttribute(kEncodingAttribute));
  EXPECT_FALSE(IsReservedAttribute(kProducedAtAttribute));
  EXPECT_FALSE(IsReservedAttribute("unibus.format"));
  EXPECT_FALSE(IsReservedAttribute("content-type"));
}

Capabilities Small() {
  Capabilities c;
  c.backend = "test";
  c.max_message_bytes = 100;
  c.max_attributes = 2;
  c.max_attribute_key_bytes = 4;
  c.max_attribute_value_bytes = 8;
  c.max_ordering_key_bytes = 6;
  return c;
}

void ExpectRefused(const Message& m, const std::string& says) {
  absl::Status s = ValidateForPublish(m, Small(), "t1");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find(says), std::string::npos) << s;
  EXPECT_NE(s.message().find("'t1'"), std::string::npos) << s;
}

TEST(PolicyTest, EachRuleAtItsLimit) {
  EXPECT_TRUE(ValidateForPublish(MessageBuilder{}.data("x").build(), Small(), "t1").ok());
  EXPECT_TRUE(ValidateForPublish(MessageBuilder{}.attribute("k", "").build(), Small(), "t1").ok());
  ExpectRefused(Message{}, "no data and no attributes");
  ExpectRefused(MessageBuilder{}.ordering_key("k").build(), "no data and no attributes");
  ExpectRefused(MessageBuilder{}.data("x").attribute("", "v").build(), "empty");
  ExpectRefused(MessageBuilder{}.data("x").attribute("k\xff", "v").build(),
                "key 'k\\xff' is not valid UTF-8");
  ExpectRefused(MessageBuilder{}.data("x").attribute("k", "\xff").build(),
                "value of attribute 'k' is not valid UTF-8");
  ExpectRefused(MessageBuilder{}.data("x").ordering_key("\xc3").build(), "ordering key");
  ExpectRefused(MessageBuilder{}.data("x").attribute(kDeadLetterReason, "r").build(), "reserved");

  EXPECT_TRUE(
      ValidateForPublish(MessageBuilder{}.data("x").attribute("kkkk", "").build(), Small(), "t1")
          .ok());
  ExpectRefused(MessageBuilder{}.data("x").attribute("kkkkk", "").build(),
                "has 5 bytes; test allows at most 4");
  EXPECT_TRUE(
      ValidateForPublish(MessageBuilder{}.data("x").attribute("k", std::string(8, 'v')).build(),
                         Small(), "t1")
          .ok());
  ExpectRefused(MessageBuilder{}.data("x").attribute("k", std::string(9, 'v')).build(),
                "has 9 bytes; test allows at most 8");
  EXPECT_TRUE(
      ValidateForPublish(MessageBuilder{}.data("x").ordering_key("123456").build(), Small(), "t1")
          .ok());
  ExpectRefused(MessageBuilder{}.data("x").ordering_key("1234567").build(),
                "ordering key has 7 bytes");
  ExpectRefused(MessageBuilder{}.attribute("a", "").attribute("b", "").attribute("c", "").build(),
                "3 attributes");
  EXPECT_TRUE(
      ValidateForPublish(MessageBuilder{}.data(std::string(100, 'd')).build(), Small(), "t1").ok());
  ExpectRefused(MessageBuilder{}.data(std::string(101, 'd')).build(), "101 bytes");
  ExpectRefused(MessageBuilder{}.data(std::string(99, 'd')).attribute("k", "v").build(),
                "101 bytes");
}

TEST(PolicyTest, HintsFitTheCaller) {
  absl::Status pub = TopicNotFound("mem://x", "t1", Caller::kPublisher);
  absl::Status sub = TopicNotFound("mem://x", "t1", Caller::kSubscriber);
  EXPECT_TRUE(absl::IsNotFound(pub));
  EXPECT_TRUE(absl::IsNotFound(sub));
  EXPECT_NE(pub.message().find("create_topic_if_missing"), std::string::npos);
  EXPECT_EQ(sub.message().find("create_topic_if_missing"), std::string::npos) << sub;
  EXPECT_NE(sub.message().find("unibus topics create t1"), std::string::npos) << sub;
}

}  // namespace
}  // namespace unibus::core_internal
