#include "kafka/mock_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <mutex>
#include <set>

#include "absl/strings/str_cat.h"
#include "kafka/common.h"

namespace unibus::kafka_internal {

struct MockCluster::Impl {
  RdKafkaPtr rk;  // runs the cluster; destroyed after it
  rd_kafka_mock_cluster_t* cluster = nullptr;
  std::mutex mu;
  std::set<std::string> topics;  // guarded by mu

  ~Impl() {
    if (cluster != nullptr) rd_kafka_mock_cluster_destroy(cluster);
  }
};

absl::StatusOr<std::unique_ptr<MockCluster>> MockCluster::Start(int brokers) {
  if (brokers < 1) return absl::InvalidArgumentError("a mock cluster needs at least 1 broker");
  auto impl = std::make_unique<Impl>();
  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  // Quiet: the mock logs through its client, and nobody polls it.
  rd_kafka_conf_set_log_cb(conf.get(), [](const rd_kafka_t*, int, const char*, const char*) {});
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof(err));
  if (rk == nullptr)
    return absl::InternalError(absl::StrCat("cannot start the Kafka mock cluster: ", err));
  (void)conf.release();  // rd_kafka_new took it
  impl->rk.reset(rk);
  impl->cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (impl->cluster == nullptr) {
    return absl::InternalError(
        "cannot start the Kafka mock cluster (rd_kafka_mock_cluster_new failed)");
  }
  return std::unique_ptr<MockCluster>(new MockCluster(std::move(impl), brokers));
}

MockCluster::MockCluster(std::unique_ptr<Impl> impl, int brokers)
    : impl_(std::move(impl)), brokers_(brokers) {}
MockCluster::~MockCluster() = default;

std::string MockCluster::bootstrap() const {
  return rd_kafka_mock_cluster_bootstraps(impl_->cluster);
}
std::string MockCluster::url() const { return absl::StrCat("kafka://", bootstrap()); }

absl::Status MockCluster::CreateTopic(const std::string& topic, int partitions) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->topics.insert(topic).second) {
    return absl::AlreadyExistsError(
        absl::StrCat("topic '", topic, "' already exists on the mock cluster"));
  }
  rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(
      impl_->cluster, topic.c_str(), std::max(1, partitions), std::min(3, brokers_));
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    impl_->topics.erase(topic);
    return ToStatus(e, absl::StrCat("create topic '", topic, "' on the mock cluster"));
  }
  return absl::OkStatus();
}

absl::Status MockCluster::SetBrokerDown(int id) {
  return ToStatus(rd_kafka_mock_broker_set_down(impl_->cluster, id),
                  absl::StrCat("take mock broker ", id, " down"));
}

absl::Status MockCluster::SetBrokerUp(int id) {
  return ToStatus(rd_kafka_mock_broker_set_up(impl_->cluster, id),
                  absl::StrCat("bring mock broker ", id, " up"));
}

absl::Status MockCluster::PushRequestErrors(std::int16_t api_key, const std::vector<int>& errors) {
  std::vector<rd_kafka_resp_err_t> errs;
  errs.reserve(errors.size());
  for (int e : errors) errs.push_back(static_cast<rd_kafka_resp_err_t>(e));
  rd_kafka_mock_push_request_errors_array(impl_->cluster, api_key, errs.size(), errs.data());
  return absl::OkStatus();
}

absl::Status MockCluster::PushBrokerRequestErrors(int id, std::int16_t api_key,
                                                  const std::vector<DelayedError>& errors) {
  for (const DelayedError& e : errors) {  // each appended behind the ones before
    if (auto s = ToStatus(rd_kafka_mock_broker_push_request_error_rtts(
                              impl_->cluster, id, api_key, 1,
                              static_cast<rd_kafka_resp_err_t>(e.error), e.delay_ms),
                          absl::StrCat("push request errors to mock broker ", id));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace unibus::kafka_internal
