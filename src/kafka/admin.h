// The kafka:// admin client, and the metadata queries the rest of the backend uses.
#ifndef UNIBUS_KAFKA_ADMIN_H_
#define UNIBUS_KAFKA_ADMIN_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kafka/common.h"
#include "unibus/admin.h"

namespace unibus::kafka_internal {

// Admin over librdkafka's admin API, on one client of its own.
//
// Subscriptions are consumer groups. Kafka creates a group when a consumer joins
// it, so CreateSubscription instead commits the group's starting offsets on every
// partition of the topic (low watermark for kEarliest, high for kLatest): the
// subscription then exists, keeps its place, and receives everything published
// after it was created, before any consumer runs. DeleteSubscription deletes the
// group (Kafka refuses while consumers are in it: FailedPrecondition). List uses
// ListGroups; Describe reads the group's committed offsets (its topic and backlog).
//
// Operations the server lacks (librdkafka's mock cluster has no CreateTopics,
// DeleteTopics, ListGroups, DescribeGroups, DeleteGroups, DescribeConfigs) return
// Unimplemented naming the server and the operation.
// True for librdkafka's answer to an API the cluster (or librdkafka) does not have.
inline bool IsUnsupported(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ||
         err == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION;
}

class KafkaAdmin : public AdminConnection {
 public:
  // Connects and waits until a broker answers, up to connect_timeout: Unavailable
  // naming the address otherwise, Unauthenticated / PermissionDenied when the
  // broker refused our credentials.
  static absl::StatusOr<std::shared_ptr<KafkaAdmin>> Connect(const ClientConfig& config);

  absl::Status CreateTopic(const TopicConfig& config) override;
  absl::Status DeleteTopic(const std::string& name) override;
  absl::StatusOr<std::vector<std::string>> ListTopics() override;
  absl::StatusOr<TopicInfo> DescribeTopic(const std::string& name) override;
  absl::Status CreateSubscription(const SubscriptionConfig& config) override;
  absl::Status DeleteSubscription(const std::string& name) override;
  absl::StatusOr<std::vector<std::string>> ListSubscriptions() override;
  absl::StatusOr<SubscriptionInfo> DescribeSubscription(const std::string& name) override;

  // OK when `topic` exists; NotFound (with what to do) otherwise. Never creates it.
  absl::Status CheckTopic(const std::string& topic);

  // Gives group `group` a committed position on every partition of `topic` when it
  // has none yet, so a new subscription starts where `start` says at the time it
  // is opened (not when its first consumer is assigned). Best effort: a failure
  // leaves auto.offset.reset in charge.
  void EnsureGroupPosition(const std::string& group, const std::string& topic, StartPosition start);

  // Whether the server supports CreateTopics / DeleteTopics (probed once with a
  // validate-only CreateTopics).
  bool SupportsTopicAdmin();

  ~KafkaAdmin() override;

 private:
  explicit KafkaAdmin(ClientConfig config) : config_(std::move(config)) {}
  absl::Status WaitForBroker();
  // Sends one admin request: `send(options, queue)` calls the rd_kafka_<Op>
  // function; returns its result event, or the request's error (named `op`).
  absl::StatusOr<EventPtr> Request(
      rd_kafka_admin_op_t type, const std::string& op,
      const std::function<void(rd_kafka_AdminOptions_t*, rd_kafka_queue_t*)>& send);
  // The error of the single topic in a CreateTopics / DeleteTopics result.
  absl::Status TopicResult(const rd_kafka_topic_result_t** results, size_t cnt,
                           const std::string& op, const std::string& what,
                           const std::string& topic);
  absl::Status Unsupported(const std::string& op) const;
  // The committed offsets of `group` (on `partitions`, or all when null), as
  // (topic, partition, offset) for those with a committed offset.
  struct GroupOffset {
    std::string topic;
    std::int32_t partition;
    std::int64_t offset;
  };
  absl::StatusOr<std::vector<GroupOffset>> GroupOffsets(
      const std::string& group, const rd_kafka_topic_partition_list_t* partitions,
      const std::string& what);
  absl::StatusOr<std::vector<std::pair<std::int32_t, std::int64_t>>> CommittedOffsets(
      const std::string& group, const std::string& topic, int partitions);
  struct TopicMeta {
    int partitions = 0;
    int replication = 0;
    std::vector<PartitionInfo> info;
  };
  absl::StatusOr<TopicMeta> Metadata(const std::string& topic);
  // Metadata, with a NotFound asked again of a few brokers before it is believed.
  absl::StatusOr<TopicMeta> LookUp(const std::string& topic);
  // One attempt at committing `config`'s start offsets on every partition of `topic`;
  // sets *transient to the broker's answer when it is one a retry can get past.
  absl::Status InitGroupOffsets(const SubscriptionConfig& config, const TopicMeta& topic,
                                rd_kafka_resp_err_t* transient);
  // Waits until the brokers' metadata shows `topic` (with a leader on every
  // partition) or, with present = false, no longer shows it.
  absl::Status AwaitTopic(const std::string& topic, bool present);
  // Brokers in the cluster's metadata; -1 if it cannot be read.
  int BrokerCount();
  // Returns once `group`'s coordinator answers for it (or after connect_timeout).
  void AwaitCoordinator(const std::string& group);
  // The consumers in `group` now, as "client-id@host".
  absl::StatusOr<std::vector<std::string>> GroupMembers(const std::string& group);
  int TimeoutMs() const;

  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);

  const ClientConfig config_;
  ClientOpaque opaque_;
  RdKafkaPtr rk_;
  std::mutex mu_;
  rd_kafka_resp_err_t last_error_ = RD_KAFKA_RESP_ERR_NO_ERROR;  // guarded by mu_
  std::string last_error_text_;                                  // guarded by mu_
  std::once_flag probe_once_;
  std::atomic<bool> topic_admin_{true};
};

}  // namespace unibus::kafka_internal

#endif  // UNIBUS_KAFKA_ADMIN_H_
