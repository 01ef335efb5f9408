#include "kafka/record.h"

#include <gtest/gtest.h>

#include <limits>

namespace unibus::kafka_internal {
namespace {

TEST(KafkaToken, RoundTripsAndFitsTheInlineBuffer) {
  const std::int64_t big = std::numeric_limits<std::int64_t>::max() - 3;
  const std::string t = TokenOf(17, big, 0x12345678);
  EXPECT_LE(t.size(), std::string().capacity()) << "a token should not allocate";
  std::int32_t p = 0;
  std::int64_t offset = 0;
  std::uint64_t epoch = 0;
  ASSERT_TRUE(ParseToken(t, &p, &offset, &epoch));
  EXPECT_EQ(p, 17);
  EXPECT_EQ(offset, big);
  EXPECT_EQ(epoch, 0x345678u) << "the low 24 bits of the epoch";
  EXPECT_TRUE(SameEpoch(epoch, 0x12345678));
  EXPECT_FALSE(SameEpoch(epoch, 0x12345679));
}

TEST(KafkaToken, AnythingElseIsNotAToken) {
  std::int32_t p;
  std::int64_t offset;
  std::uint64_t epoch;
  EXPECT_FALSE(ParseToken("", &p, &offset, &epoch));
  EXPECT_FALSE(ParseToken("3:12345", &p, &offset, &epoch));
  EXPECT_FALSE(ParseToken(std::string(16, 'x'), &p, &offset, &epoch));
}

}  // namespace
}  // namespace unibus::kafka_internal
