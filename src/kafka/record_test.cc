#include "kafka/record.h"

#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <string>

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

// The header rule (record.h), both ways.
TEST(KafkaHeaders, AttributesRoundTripIncludingEmptyValues) {
  const std::map<std::string, std::string> attributes = {
      {"content-type", "application/x-protobuf"}, {"empty", ""}, {"bin", std::string("a\0b", 3)}};
  HeadersPtr headers = HeadersOf(attributes);
  ASSERT_NE(headers, nullptr);
  EXPECT_EQ(rd_kafka_header_cnt(headers.get()), 3u) << "one header per attribute";
  const void* value = nullptr;
  size_t size = 1;
  ASSERT_EQ(rd_kafka_header_get_last(headers.get(), "empty", &value, &size),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_NE(value, nullptr) << "an empty value is an empty header, not a NULL one";
  EXPECT_EQ(size, 0u);
  std::map<std::string, std::string> back;
  ReadHeaders(headers.get(), &back);
  EXPECT_EQ(back, attributes);
  EXPECT_EQ(HeadersOf({}), nullptr);
}

TEST(KafkaHeaders, NullValuesReadAsEmptyAndTheLastOfADuplicateWins) {
  HeadersPtr headers(rd_kafka_headers_new(4));
  rd_kafka_header_add(headers.get(), "trace", -1, "first", -1);
  rd_kafka_header_add(headers.get(), "flag", -1, nullptr, 0);
  rd_kafka_header_add(headers.get(), "trace", -1, "second", -1);
  rd_kafka_header_add(headers.get(), "k", -1, "v", -1);
  std::map<std::string, std::string> attributes;
  ReadHeaders(headers.get(), &attributes);
  EXPECT_EQ(attributes,
            (std::map<std::string, std::string>{{"flag", ""}, {"k", "v"}, {"trace", "second"}}));
  // Written back, each name once and no NULL: reading that again changes nothing.
  std::map<std::string, std::string> again;
  ReadHeaders(HeadersOf(attributes).get(), &again);
  EXPECT_EQ(again, attributes);
  ReadHeaders(nullptr, &again);
  EXPECT_EQ(again, attributes);
}

}  // namespace
}  // namespace unibus::kafka_internal
