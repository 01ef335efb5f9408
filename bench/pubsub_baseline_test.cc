// The parts of the Node.js Pub/Sub baseline that need no emulator: reading its
// config from the URL and its output line.
#include "bench/pubsub_baseline.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace unibus::bench {
namespace {

TEST(PubsubBaseline, ConfigFromUrl) {
  unsetenv("PUBSUB_EMULATOR_HOST");
  auto c = PubsubBaselineConfigFor(
      *core_internal::ParseUrl("pubsub://my-project?emulator=127.0.0.1:8085"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->emulator, "127.0.0.1:8085");
  EXPECT_EQ(c->project, "my-project");
  EXPECT_TRUE(c->ordered);
  auto off = PubsubBaselineConfigFor(
      *core_internal::ParseUrl("pubsub://my-project?emulator=h:1&ordering=off"));
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->ordered);

  auto none = PubsubBaselineConfigFor(*core_internal::ParseUrl("pubsub://my-project"));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(none.status().message().find("PUBSUB_EMULATOR_HOST"), std::string::npos);

  setenv("PUBSUB_EMULATOR_HOST", "10.0.0.1:9", 1);
  auto env = PubsubBaselineConfigFor(*core_internal::ParseUrl("pubsub://my-project"));
  unsetenv("PUBSUB_EMULATOR_HOST");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->emulator, "10.0.0.1:9");
}

TEST(PubsubBaseline, ParsesTheScriptsLastLine) {
  auto r = ParsePubsubBaselineOutput(
      "npm notice x\n{\"publish_per_s\":40245.6,\"consume_per_s\":9335.2}\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->name, "node-@google-cloud/pubsub");
  EXPECT_DOUBLE_EQ(r->publish_per_s, 40245.6);
  EXPECT_DOUBLE_EQ(r->consume_per_s, 9335.2);
  EXPECT_EQ(ParsePubsubBaselineOutput("").status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ParsePubsubBaselineOutput("{\"publish_per_s\":1}").status().code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(ParsePubsubBaselineOutput("{\"publish_per_s\":0,\"consume_per_s\":1}").status().code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace unibus::bench
