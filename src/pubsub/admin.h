// Topics and subscriptions of one Google Cloud project.
#ifndef UNIBUS_PUBSUB_ADMIN_H_
#define UNIBUS_PUBSUB_ADMIN_H_

#include <memory>
#include <string>
#include <vector>

#include "pubsub/connection.h"
#include "unibus/admin.h"

namespace unibus::pubsub_internal {

// Message retention of a topic created without TopicConfig::retention (sqlite's
// default too).
inline constexpr absl::Duration kDefaultTopicRetention = absl::Hours(24 * 7);

// Admin over the Pub/Sub API. Every call is one or a few unary RPCs with a deadline
// of BrokerOptions::connect_timeout. Thread-safe.
//
// CreateTopic: TopicConfig::retention sets the topic's message retention (10 min to
// 31 days; zero means kDefaultTopicRetention, so that every topic unibus creates
// keeps the history a new subscription at kEarliest replays, as on the other
// backends). CreateSubscription: ack deadline (clamped to Pub/Sub's 10-600 s),
// message ordering, native dead-letter policy (max attempts clamped to 5-100) and
// the start position: kEarliest replays what the topic retains (Seek);
// FailedPrecondition when the topic has no retention (made by another client), as
// it then has no history to replay. kLatest starts at creation.
class PubsubAdmin : public AdminConnection {
 public:
  explicit PubsubAdmin(std::shared_ptr<Connection> conn) : conn_(std::move(conn)) {}

  absl::Status CreateTopic(const TopicConfig& config) override;
  absl::Status DeleteTopic(const std::string& name) override;
  absl::StatusOr<std::vector<std::string>> ListTopics() override;
  absl::StatusOr<TopicInfo> DescribeTopic(const std::string& name) override;
  absl::Status CreateSubscription(const SubscriptionConfig& config) override;
  absl::Status DeleteSubscription(const std::string& name) override;
  absl::StatusOr<std::vector<std::string>> ListSubscriptions() override;
  absl::StatusOr<SubscriptionInfo> DescribeSubscription(const std::string& name) override;

  // The subscription's resource, or NotFound.
  absl::StatusOr<google::pubsub::v1::Subscription> GetSubscription(const std::string& name);

 private:
  // Makes a new subscription start at the topic's newest message on the emulator,
  // which (unlike Pub/Sub) hands a new subscription everything the topic retains.
  absl::Status SkipRetained(const std::string& sub_path, absl::Time created);

  std::shared_ptr<Connection> conn_;
};

}  // namespace unibus::pubsub_internal

#endif  // UNIBUS_PUBSUB_ADMIN_H_
