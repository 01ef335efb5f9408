#include "core/dead_letter.h"

#include <gtest/gtest.h>

#include <string>

namespace unibus::core_internal {
namespace {

DeadLetterInfo Info(std::string_view reason) {
  return DeadLetterInfo{.reason = reason,
                        .source_topic = "images",
                        .source_subscription = "classifier",
                        .delivery_attempts = 5};
}

TEST(BoundedReasonTest, ShortValidReasonsAreKept) {
  EXPECT_EQ(BoundedReason("cannot parse", 1024), "cannot parse");
  EXPECT_EQ(BoundedReason("", 1024), "");
  EXPECT_EQ(BoundedReason("h\xC3\xA9llo", 6), "h\xC3\xA9llo") << "exactly the limit";
}

TEST(BoundedReasonTest, LongReasonsAreCutAtACharacterBoundaryWithAnEllipsis) {
  const std::string long_reason(5000, 'x');
  const std::string cut = BoundedReason(long_reason, kMaxDeadLetterReasonBytes);
  EXPECT_EQ(cut.size(), kMaxDeadLetterReasonBytes);
  EXPECT_EQ(cut.substr(cut.size() - 3), "...");
  // "é" is two bytes: a cut must not split it.
  EXPECT_EQ(BoundedReason("\xC3\xA9\xC3\xA9\xC3\xA9", 5), "\xC3\xA9...");
  EXPECT_EQ(BoundedReason("\xC3\xA9\xC3\xA9\xC3\xA9", 6), "\xC3\xA9\xC3\xA9\xC3\xA9");
  EXPECT_EQ(BoundedReason("abcdef", 2), "ab") << "no room for the ellipsis";
  EXPECT_EQ(BoundedReason("abcdef", 0), "");
}

TEST(BoundedReasonTest, BytesThatAreNotUtf8BecomeQuestionMarks) {
  EXPECT_EQ(BoundedReason("k\xFFv", 100), "k?v");
  EXPECT_EQ(BoundedReason("\xC3", 100), "?") << "a truncated sequence";
  EXPECT_EQ(BoundedReason("\xED\xA0\x80", 100), "???") << "a surrogate";
  EXPECT_EQ(BoundedReason("\xC0\xAF", 100), "??") << "an overlong encoding";
  EXPECT_EQ(BoundedReason("\xF0\x9F\x98\x80", 100), "\xF0\x9F\x98\x80") << "U+1F600 is fine";
}

TEST(BuildDeadLetterCopyTest, KeepsTheMessageAndAddsTheReasonAttributes) {
  Message m = MessageBuilder{}.data("poison").attribute("a", "1").ordering_key("img-7").build();
  m.id = "42";
  m.delivery_attempt = 5;
  m.topic = "images";
  auto copy = BuildDeadLetterCopy(m, Info("cannot parse"), 1 << 20);
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(copy->data, "poison");
  EXPECT_EQ(copy->ordering_key, "img-7");
  EXPECT_EQ(copy->attribute("a"), "1");
  EXPECT_EQ(copy->attribute(kDeadLetterReason), "cannot parse");
  EXPECT_EQ(copy->attribute(kDeadLetterSourceTopic), "images");
  EXPECT_EQ(copy->attribute(kDeadLetterSourceSubscription), "classifier");
  EXPECT_EQ(copy->attribute(kDeadLetterAttempts), "5");
  EXPECT_EQ(copy->attributes.size(), 5u);
  EXPECT_TRUE(copy->id.empty()) << "the broker sets the copy's id";
  EXPECT_EQ(copy->delivery_attempt, 0);
}

TEST(BuildDeadLetterCopyTest, TheReasonIsBounded) {
  auto copy = BuildDeadLetterCopy(MessageBuilder{}.data("x").build(),
                                  Info(std::string(100000, 'r')), 10 << 20);
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ(copy->attribute(kDeadLetterReason).size(), kMaxDeadLetterReasonBytes);
  EXPECT_LE(copy->ByteSize(), 1 + kMaxDeadLetterOverheadBytes);
}

TEST(BuildDeadLetterCopyTest, UserValuesOfLibraryAttributesAreKeptUnderAnotherName) {
  Message m = MessageBuilder{}
                  .data("x")
                  .attribute(kDeadLetterReason, "my reason")
                  .attribute(kDeadLetterSourceTopic, "my topic")
                  .attribute(kDeadLetterAttempts, "my attempts")
                  .attribute("unibus-original-unibus-delivery-attempts", "older")
                  .attribute("unibus-type", "my.Type")
                  .build();
  auto copy = BuildDeadLetterCopy(m, Info("nacked"), 1 << 20);
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ(copy->attribute(kDeadLetterReason), "nacked");
  EXPECT_EQ(copy->attribute("unibus-original-unibus-dead-letter-reason"), "my reason");
  EXPECT_EQ(copy->attribute(kDeadLetterSourceTopic), "images");
  EXPECT_EQ(copy->attribute("unibus-original-unibus-source-topic"), "my topic");
  EXPECT_EQ(copy->attribute(kDeadLetterAttempts), "5");
  EXPECT_EQ(copy->attribute("unibus-original-unibus-delivery-attempts"), "older")
      << "a value already kept aside stays where it is";
  EXPECT_EQ(copy->attribute("unibus-original-unibus-original-unibus-delivery-attempts"),
            "my attempts");
  EXPECT_EQ(copy->attribute("unibus-type"), "my.Type") << "other unibus-* attributes untouched";
  EXPECT_FALSE(copy->attributes.contains("unibus-original-unibus-source-subscription"));
}

TEST(BuildDeadLetterCopyTest, TheReasonIsCutSoThatTheCopyFitsTheLimit) {
  const Message m = MessageBuilder{}.data(std::string(1000, 'd')).build();
  auto full = BuildDeadLetterCopy(m, Info("short"), 1 << 20);
  ASSERT_TRUE(full.ok());
  const std::size_t without_reason = full->ByteSize() - 5;
  auto tight = BuildDeadLetterCopy(m, Info(std::string(500, 'r')), without_reason + 100);
  ASSERT_TRUE(tight.ok()) << tight.status();
  EXPECT_EQ(tight->ByteSize(), without_reason + 100) << "the copy fills the limit exactly";
  EXPECT_EQ(tight->attribute(kDeadLetterReason).size(), 100u);
  auto exact = BuildDeadLetterCopy(m, Info("r"), without_reason);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->attribute(kDeadLetterReason), "") << "no room left for any reason";
}

TEST(BuildDeadLetterCopyTest, ACopyThatCannotFitIsRefusedWithBothSizes) {
  const Message m = MessageBuilder{}.data(std::string(1000, 'd')).build();
  auto copy = BuildDeadLetterCopy(m, Info("r"), 1010);
  ASSERT_FALSE(copy.ok());
  EXPECT_EQ(copy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(copy.status().message().find("1010-byte"), std::string::npos) << copy.status();
  EXPECT_NE(copy.status().message().find("1000 bytes"), std::string::npos) << copy.status();
}

TEST(IsPermanentDeadLetterErrorTest, TransientCodesAreRetried) {
  EXPECT_FALSE(IsPermanentDeadLetterError(absl::UnavailableError("down")));
  EXPECT_FALSE(IsPermanentDeadLetterError(absl::DeadlineExceededError("slow")));
  EXPECT_TRUE(IsPermanentDeadLetterError(absl::InvalidArgumentError("too large")));
  EXPECT_TRUE(IsPermanentDeadLetterError(absl::PermissionDeniedError("acl")));
  EXPECT_TRUE(IsPermanentDeadLetterError(absl::NotFoundError("no topic")));
}

}  // namespace
}  // namespace unibus::core_internal
