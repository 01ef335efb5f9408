#include "core/duration.h"

#include <gtest/gtest.h>

namespace unibus::core_internal {
namespace {

TEST(DurationTest, ParsesUnitsDaysAndSeconds) {
  EXPECT_EQ(*ParseDuration("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseDuration("2h30m"), absl::Minutes(150));
  EXPECT_EQ(*ParseDuration("7d"), absl::Hours(7 * 24));
  EXPECT_EQ(*ParseDuration("0.5d"), absl::Hours(12));
  EXPECT_EQ(*ParseDuration("30"), absl::Seconds(30));
  EXPECT_EQ(*ParseDuration("0.25"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseDuration("0"), absl::ZeroDuration());
  EXPECT_EQ(*ParseDuration("36500d"), kMaxDuration);
}

TEST(DurationTest, OverflowingDaysAreRefusedNamingTheMaximum) {
  // 24 * 555555505555555555 overflows int64: it used to give a huge (or negative) retention.
  for (const char* text : {"555555505555555555d", "36501d", "9223372036854775807d", "1e300d",
                           "876001h", "99999999999999999999h", "1e30", "inf", "infd"}) {
    auto d = ParseDuration(text);
    ASSERT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_NE(d.status().message().find("maximum of 36500d"), std::string::npos) << d.status();
  }
}

TEST(DurationTest, NegativeAndGarbageAreRefused) {
  for (const char* text : {"-1d", "-5s", "-0.5", "-inf", "-9223372036854775808d"}) {
    auto d = ParseDuration(text);
    ASSERT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_NE(d.status().message().find("negative"), std::string::npos) << d.status();
  }
  for (const char* text : {"", "d", "abc", "5 parsecs", "nan", "nand", "1x", "5dd"}) {
    auto d = ParseDuration(text);
    ASSERT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_NE(d.status().message().find("not a duration"), std::string::npos) << d.status();
  }
}

}  // namespace
}  // namespace unibus::core_internal
