#include "core/names.h"

#include <gtest/gtest.h>

namespace unibus::core_internal {
namespace {

TEST(NamesTest, AcceptsPortableNames) {
  for (const char* ok : {"abc", "images", "images.dead-letter", "a_b-c.d", "T123"}) {
    EXPECT_TRUE(ValidateName("topic", ok).ok()) << ok;
  }
  EXPECT_TRUE(ValidateName("topic", std::string(249, 'a')).ok());
}

TEST(NamesTest, RejectsWithTheRule) {
  for (const char* bad :
       {"", "ab", "1abc", "-abc", "has space", "a/b", "a:b", "google-x", "é-topic"}) {
    auto s = ValidateName("topic", bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("invalid topic name"), std::string::npos);
  }
  EXPECT_FALSE(ValidateName("topic", std::string(250, 'a')).ok());
}

TEST(NamesTest, AnyNameAnExistingResourceMayHave) {
  for (const char* ok : {"kj", "_schemas", "1-orders", "a"}) {
    EXPECT_TRUE(ValidateAnyName("topic", ok).ok()) << ok;
  }
  EXPECT_EQ(ValidateAnyName("topic", "").code(), absl::StatusCode::kInvalidArgument);
}

TEST(NamesTest, ADerivedDeadLetterNameIsCheckedWithTheSubscription) {
  EXPECT_EQ(DerivedDeadLetterTopic("sub"), "sub.dead-letter");
  EXPECT_TRUE(ValidateNewSubscription(std::string(237, 'a'), "").ok());
  auto s = ValidateNewSubscription(std::string(238, 'a'), "");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("dead-letter topic"), std::string::npos) << s;
  EXPECT_NE(s.message().find("at most 237 characters"), std::string::npos) << s;
  // An explicit dead-letter topic takes the derived name's place.
  EXPECT_TRUE(ValidateNewSubscription(std::string(249, 'a'), "dlq").ok());
  EXPECT_FALSE(ValidateNewSubscription(std::string(249, 'a'), "x").ok());
  EXPECT_FALSE(ValidateNewSubscription("kj", "").ok());
}

}  // namespace
}  // namespace unibus::core_internal
