// Creating, deleting, listing and describing topics and subscriptions.
#ifndef UNIBUS_ADMIN_H_
#define UNIBUS_ADMIN_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "unibus/export.h"
#include "unibus/options.h"

namespace unibus {

struct UNIBUS_EXPORT TopicConfig {
  std::string name;
  int partitions = 1;           // Kafka only; other backends ignore it
  int replication_factor = -1;  // Kafka only; -1 = the broker's default
  // Retention, where the backend has it (sqlite, Kafka, Pub/Sub). Zero = the
  // backend's default (sqlite: 7 days, unlimited count).
  absl::Duration retention = absl::ZeroDuration();
  std::int64_t retention_messages = 0;         // sqlite: keep at most this many; 0 = no limit
  std::map<std::string, std::string> configs;  // backend-specific topic configs
};

struct UNIBUS_EXPORT PartitionInfo {
  int id = 0;
  int leader = -1;
  std::int64_t low_offset = -1;
  std::int64_t high_offset = -1;
  std::vector<int> replicas;          // Kafka: broker ids holding a copy, leader first
  std::vector<int> in_sync_replicas;  // Kafka: the replicas caught up with the leader (ISR)
};

struct UNIBUS_EXPORT TopicInfo {
  std::string name;
  int partitions = 1;
  int replication_factor = 1;
  std::int64_t messages = -1;  // messages currently retained; -1 if unknown
  absl::Duration retention = absl::ZeroDuration();
  std::int64_t retention_messages = 0;
  std::vector<PartitionInfo> partition_info;
  // Kafka: the topic's settings that differ from the server's built-in defaults
  // (set on the topic, or on the brokers), e.g. {"cleanup.policy", "compact"}.
  std::map<std::string, std::string> configs;
};

struct UNIBUS_EXPORT SubscriptionConfig {
  std::string name;
  std::string topic;
  StartPosition start = StartPosition::kLatest;
  absl::Duration ack_deadline = absl::Seconds(30);
  bool message_ordering = true;   // Pub/Sub: enable_message_ordering
  std::string dead_letter_topic;  // native dead-letter policy, where supported
  int max_delivery_attempts = 5;
};

// Kafka: where a consumer group stands on one partition of its topic.
struct UNIBUS_EXPORT SubscriptionPartition {
  int partition = 0;
  std::int64_t committed_offset = -1;  // next offset to consume; -1 if none committed
  std::int64_t high_offset = -1;       // the partition's end
  std::int64_t lag = -1;               // high_offset - committed_offset; -1 if unknown
};

struct UNIBUS_EXPORT SubscriptionInfo {
  std::string name;
  std::string topic;
  std::int64_t backlog = -1;    // messages not yet acked; -1 if unknown
  std::int64_t in_flight = -1;  // leased to a consumer right now; -1 if unknown
  absl::Duration ack_deadline = absl::ZeroDuration();
  std::string dead_letter_topic;
  std::vector<std::string> members;  // Kafka: consumers in the group now ("client-id@host")
  std::vector<SubscriptionPartition> partitions;  // Kafka: committed offset and lag each
};

// What a backend implements behind Admin. Mockable.
class UNIBUS_EXPORT AdminConnection {
 public:
  virtual ~AdminConnection() = default;
  virtual absl::Status CreateTopic(const TopicConfig& config) = 0;
  virtual absl::Status DeleteTopic(const std::string& name) = 0;
  virtual absl::StatusOr<std::vector<std::string>> ListTopics() = 0;
  virtual absl::StatusOr<TopicInfo> DescribeTopic(const std::string& name) = 0;
  virtual absl::Status CreateSubscription(const SubscriptionConfig& config) = 0;
  virtual absl::Status DeleteSubscription(const std::string& name) = 0;
  virtual absl::StatusOr<std::vector<std::string>> ListSubscriptions() = 0;
  virtual absl::StatusOr<SubscriptionInfo> DescribeSubscription(const std::string& name) = 0;
};

// Admin client: a cheap value sharing its connection. Every call blocks until the
// broker answers (or BrokerOptions::connect_timeout). Thread-safe.
//
// Errors mean the same on every backend: NotFound (no such topic/subscription),
// AlreadyExists, InvalidArgument (bad name or config), Unimplemented (this server
// cannot do it; see Capabilities), Unavailable (broker unreachable).
class UNIBUS_EXPORT Admin {
 public:
  explicit Admin(std::shared_ptr<AdminConnection> conn) : conn_(std::move(conn)) {}

  [[nodiscard]] absl::Status CreateTopic(const TopicConfig& config) {
    return conn_->CreateTopic(config);
  }
  [[nodiscard]] absl::Status CreateTopic(const std::string& name) {
    return conn_->CreateTopic(TopicConfig{.name = name});
  }
  [[nodiscard]] absl::Status DeleteTopic(const std::string& name) {
    return conn_->DeleteTopic(name);
  }
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> ListTopics() {
    return conn_->ListTopics();
  }
  [[nodiscard]] absl::StatusOr<TopicInfo> DescribeTopic(const std::string& name) {
    return conn_->DescribeTopic(name);
  }
  [[nodiscard]] absl::Status CreateSubscription(const SubscriptionConfig& config) {
    return conn_->CreateSubscription(config);
  }
  [[nodiscard]] absl::Status DeleteSubscription(const std::string& name) {
    return conn_->DeleteSubscription(name);
  }
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> ListSubscriptions() {
    return conn_->ListSubscriptions();
  }
  [[nodiscard]] absl::StatusOr<SubscriptionInfo> DescribeSubscription(const std::string& name) {
    return conn_->DescribeSubscription(name);
  }

 private:
  std::shared_ptr<AdminConnection> conn_;
};

}  // namespace unibus

#endif  // UNIBUS_ADMIN_H_
