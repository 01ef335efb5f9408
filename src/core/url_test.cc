#include "core/url.h"

#include <gtest/gtest.h>

namespace unibus::core_internal {
namespace {

TEST(UrlTest, ParsesSchemeBodyAndQuery) {
  auto u = ParseUrl("kafka://a:9092,b:9093?acks=all&client.id=x%20y");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->scheme, "kafka");
  EXPECT_EQ(u->body, "a:9092,b:9093");
  EXPECT_EQ(u->query.at("acks"), "all");
  EXPECT_EQ(u->query.at("client.id"), "x y");
}

TEST(UrlTest, SchemeIsCaseInsensitiveAndBodyMayBeEmpty) {
  auto u = ParseUrl("MEM://");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, "mem");
  EXPECT_EQ(u->body, "");
}

TEST(UrlTest, RejectsMalformedUrlsWithAHint) {
  for (const char* bad :
       {"unibus.db", "://x", "sq lite://x", "kafka://h?novalue", "kafka://h?=v", "sqlite://a%zz"}) {
    auto u = ParseUrl(bad);
    EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(ParseUrl("unibus.db").status().message().find("SCHEME://"), std::string::npos);
}

TEST(UrlTest, RedactsSecrets) {
  EXPECT_EQ(RedactUrl("kafka://h?sasl.password=hunter2&acks=all"),
            "kafka://h?sasl.password=***&acks=all");
  EXPECT_EQ(RedactUrl("mem://x"), "mem://x");
}

}  // namespace
}  // namespace unibus::core_internal
