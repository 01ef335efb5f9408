#include "kafka/common.h"

#include <gtest/gtest.h>

namespace unibus::kafka_internal {
namespace {

TEST(LogLevelOf, MapsSyslogLevels) {
  EXPECT_EQ(LogLevelOf(3, "FAIL", "connection refused"), spdlog::level::err);
  EXPECT_EQ(LogLevelOf(4, "REQTMOUT", "timed out"), spdlog::level::warn);
  EXPECT_EQ(LogLevelOf(6, "CGRPOP", "joined"), spdlog::level::info);
  EXPECT_EQ(LogLevelOf(7, "FETCH", "fetching"), spdlog::level::debug);
}

// A fresh cluster's transaction coordinator is still loading at the first idempotent
// publish: librdkafka retries, so it is not a warning; other GETPID failures are.
TEST(LogLevelOf, AFreshClustersCoordinatorLoadIsInfo) {
  EXPECT_EQ(LogLevelOf(4, "GETPID",
                       "Failed to acquire idempotence PID from broker 127.0.0.1:9092/1: Broker: "
                       "Coordinator load in progress: retrying"),
            spdlog::level::info);
  EXPECT_EQ(LogLevelOf(4, "GETPID",
                       "Failed to acquire idempotence PID from broker 127.0.0.1:9092/1: Broker: "
                       "Cluster authorization failed: retrying"),
            spdlog::level::warn);
  EXPECT_EQ(LogLevelOf(4, "OTHER", "Coordinator load in progress: retrying"), spdlog::level::warn);
}

// Found by a review: kafka://alice:s3cret@host printed the password (librdkafka took
// "alice:s3cret@host" for a host name), and a bad port became a 10 s Unavailable.
TEST(CheckBootstrap, RefusesCredentialsAndBadPortsWithoutShowingThePassword) {
  for (const char* ok : {"127.0.0.1:9092", "a:1,b:65535", "broker", "[::1]:9092", "[::1]",
                         "SASL_SSL://kafka-1:9093,SASL_SSL://kafka-2:9093", "a:9092,",
                         "a:9092 , b:9092", "PLAINTEXT://h:9092/", "fe80::beef"}) {
    EXPECT_TRUE(CheckBootstrap(ok, "kafka://x").ok()) << ok;
  }
  const absl::Status creds =
      CheckBootstrap("alice:s3cret@127.0.0.1:1", "kafka://alice:s3cret@127.0.0.1:1");
  EXPECT_EQ(creds.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(creds.message().find("s3cret"), absl::string_view::npos) << creds;
  EXPECT_NE(creds.message().find("sasl.username"), absl::string_view::npos) << creds;
  for (const char* bad : {"127.0.0.1:99999", ":abc", "host:", "host:0", "a:1,b:x", "[::1]x"}) {
    const absl::Status s = CheckBootstrap(bad, "kafka://x");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("1 to 65535"), absl::string_view::npos) << s;
  }
}

}  // namespace
}  // namespace unibus::kafka_internal
