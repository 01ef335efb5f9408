// The conformance suite on kafka://, against a real Apache Kafka cluster (KRaft, from
// the Maven Central jars) that scripts/kafka.sh starts once for the test binary: 3
// brokers, so topics have replication factor 3 and min.insync.replicas 2
// (UNIBUS_KAFKA_TEST_BROKERS=1 for one); a cluster that cannot start fails the suite
// with the reason. UNIBUS_KAFKA_CONFORMANCE=mock runs it on librdkafka's mock cluster
// instead (3 brokers; no Java needed; the mock has no CreateTopics, so topics are made
// with the mock API). Consumer-group timeouts are short so rebalances take ~1 s, not
// 45. Set UNIBUS_KAFKA_TEST_PARAMS to add librdkafka properties (e.g. debug=cgrp), and
// UNIBUS_TEST_LOG=1 to see the log lines (env_test.h).
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "conformance/backend.h"
#include "kafka/mock_cluster.h"
#include "kafka/real_cluster.h"

namespace unibus::conformance {
namespace {

bool Real() {
  const char* v = std::getenv("UNIBUS_KAFKA_CONFORMANCE");
  return v == nullptr || std::string_view(v) != "mock";
}

class KafkaEnv : public BackendEnv {
 public:
  std::string name() const override { return "kafka"; }
  bool required() const override { return real_; }

  absl::Status Start() override {
    if (!real_) {
      auto cluster = kafka_internal::MockCluster::Start(3);
      if (!cluster.ok()) return cluster.status();
      mock_ = *std::move(cluster);
      std::fprintf(stderr, "kafka env: running on librdkafka's mock cluster at %s\n",
                   mock_->bootstrap().c_str());
      return absl::OkStatus();
    }
    int brokers = 3;
    if (const char* n = std::getenv("UNIBUS_KAFKA_TEST_BROKERS")) {
      if (!absl::SimpleAtoi(n, &brokers) || brokers < 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("UNIBUS_KAFKA_TEST_BROKERS='", n, "' is not a broker count"));
      }
    }
    auto cluster = kafka_testing::RealCluster::Start(brokers);
    if (!cluster.ok()) return cluster.status();
    real_cluster_ = *std::move(cluster);
    std::fprintf(stderr, "kafka env: running on %s\n", real_cluster_->description().c_str());
    return absl::OkStatus();
  }
  void Stop() override {
    mock_.reset();
    real_cluster_.reset();
  }

  // One cluster for the suite; tests use fresh topic and group names.
  std::string Url() override {
    const char* extra = std::getenv("UNIBUS_KAFKA_TEST_PARAMS");
    return absl::StrCat(real_ ? real_cluster_->url() : mock_->url(),
                        "?session.timeout.ms=6000&heartbeat.interval.ms=500&topic.metadata.refresh."
                        "interval.ms=1000",
                        extra != nullptr ? absl::StrCat("&", extra) : "");
  }

  absl::Status CreateTopic(Broker& broker, const std::string& topic, int partitions) override {
    if (real_) return BackendEnv::CreateTopic(broker, topic, partitions);
    return mock_->CreateTopic(topic, partitions);
  }

  absl::Status Restart() override {
    if (!real_) return BackendEnv::Restart();
    if (auto s = real_cluster_->StopAll(); !s.ok()) return s;
    return real_cluster_->StartAll();
  }

 private:
  const bool real_ = Real();
  std::unique_ptr<kafka_internal::MockCluster> mock_;
  std::unique_ptr<kafka_testing::RealCluster> real_cluster_;
};

}  // namespace

UNIBUS_REGISTER_BACKEND_ENV("kafka", KafkaEnv);

}  // namespace unibus::conformance
