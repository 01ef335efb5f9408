// Topics and subscriptions of a sqlite file.
#ifndef UNIBUS_SQLITE_ADMIN_H_
#define UNIBUS_SQLITE_ADMIN_H_

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sqlite/db.h"
#include "unibus/admin.h"

namespace unibus::sqlite_internal {

// The AdminConnection of a sqlite broker, over its own connection. Thread-safe;
// every call is one transaction.
class SqliteAdmin : public AdminConnection {
 public:
  explicit SqliteAdmin(std::unique_ptr<Db> db) : db_(std::move(db)) {}

  absl::Status CreateTopic(const TopicConfig& config) override;
  absl::Status DeleteTopic(const std::string& name) override;
  absl::StatusOr<std::vector<std::string>> ListTopics() override;
  absl::StatusOr<TopicInfo> DescribeTopic(const std::string& name) override;
  absl::Status CreateSubscription(const SubscriptionConfig& config) override;
  absl::Status DeleteSubscription(const std::string& name) override;
  absl::StatusOr<std::vector<std::string>> ListSubscriptions() override;
  absl::StatusOr<SubscriptionInfo> DescribeSubscription(const std::string& name) override;

  // Whether topic `name` exists.
  absl::StatusOr<bool> TopicExists(const std::string& name);
  // The topic subscription `name` reads, or nullopt when it does not exist.
  absl::StatusOr<std::optional<std::string>> SubscriptionTopic(const std::string& name);
  // Retention now, whatever the schedule (tests, `unibus topics` maintenance).
  absl::Status ApplyRetentionNow();

 private:
  absl::StatusOr<std::vector<std::string>> Names(const char* sql);

  std::mutex mu_;
  std::unique_ptr<Db> db_;  // guarded by mu_
};

}  // namespace unibus::sqlite_internal

#endif  // UNIBUS_SQLITE_ADMIN_H_
