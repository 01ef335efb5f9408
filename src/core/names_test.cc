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

}  // namespace
}  // namespace unibus::core_internal
