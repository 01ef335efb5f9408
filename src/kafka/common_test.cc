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

}  // namespace
}  // namespace unibus::kafka_internal
