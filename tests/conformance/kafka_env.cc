// The conformance suite on kafka://, against librdkafka's mock cluster (3 brokers)
// started for the suite. The mock has no CreateTopics, so topics are made with the
// mock API; consumer-group timeouts are short so rebalances take ~1 s, not 45.
#include <atomic>

#include "absl/strings/str_cat.h"
#include "conformance/backend.h"
#include "kafka/mock_cluster.h"

namespace unibus::conformance {
namespace {

class KafkaEnv : public BackendEnv {
 public:
  std::string name() const override { return "kafka"; }

  absl::Status Start() override {
    auto cluster = kafka_internal::MockCluster::Start(3);
    if (!cluster.ok()) return cluster.status();
    cluster_ = *std::move(cluster);
    return absl::OkStatus();
  }
  void Stop() override { cluster_.reset(); }

  // One cluster for the suite; tests use fresh topic and group names.
  std::string Url() override {
    return absl::StrCat(cluster_->url(),
                        "?session.timeout.ms=6000&heartbeat.interval.ms=500&topic.metadata.refresh."
                        "interval.ms=1000");
  }

  absl::Status CreateTopic(Broker&, const std::string& topic, int partitions) override {
    return cluster_->CreateTopic(topic, partitions);
  }

 private:
  std::unique_ptr<kafka_internal::MockCluster> cluster_;
};

}  // namespace

UNIBUS_REGISTER_BACKEND_ENV("kafka", KafkaEnv);

}  // namespace unibus::conformance
