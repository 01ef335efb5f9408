// The fixture of the real-Kafka test binary (real_kafka_test): one 3-broker cluster
// (KRaft, replication factor 3, min.insync.replicas 2) started once for the binary by
// scripts/kafka.sh and shared by every test in it; tests use their own topic and group
// names.
#ifndef UNIBUS_TESTS_KAFKA_REAL_KAFKA_FIXTURE_H_
#define UNIBUS_TESTS_KAFKA_REAL_KAFKA_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "conformance/checker.h"
#include "kafka/real_cluster.h"
#include "unibus/unibus.h"

namespace unibus::kafka_testing {

// The binary's cluster, or null (with the reason in TestClusterStatus()) if it did
// not start. Started before the first test, stopped after the last.
RealCluster* TestCluster();
absl::Status TestClusterStatus();

// Consumer-group timeouts short enough that a rebalance takes ~1 s, not 45.
inline constexpr char kFastGroup[] =
    "?session.timeout.ms=6000&heartbeat.interval.ms=500&topic.metadata.refresh.interval.ms=1000";

class RealKafka : public ::testing::Test {
 protected:
  void SetUp() override;
  // A failed test prints the tail of the brokers' WARN/ERROR log lines.
  void TearDown() override;

  // `base` with a suffix no other call in this process returns, so a test can run
  // again on the same cluster (--gtest_repeat; the fault tests use it, the admin
  // tests of real_kafka_test.cc still have fixed names).
  static std::string Unique(const std::string& base);

  // kafka-topics / kafka-consumer-groups from the same jars; "" (and a failure) on error.
  std::string Topics(std::vector<std::string> args);
  std::string Groups(std::vector<std::string> args);

  // Publishes "<topic>/<i>" for i in [from, to) (7 keys), waiting for every ack.
  void PublishN(const std::string& topic, int from, int to,
                conformance::Checker* checker = nullptr);

  // Pulls and acks until `want` distinct messages or `limit`; returns all deliveries.
  std::vector<std::string> Drain(Subscriber& sub, int want, absl::Duration limit);

  RealCluster* cluster = nullptr;
  std::unique_ptr<Broker> broker_;
};

}  // namespace unibus::kafka_testing

#endif  // UNIBUS_TESTS_KAFKA_REAL_KAFKA_FIXTURE_H_
