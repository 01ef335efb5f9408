#include "sqlite/sqlite_broker.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/batching_publisher.h"
#include "core/dispatcher.h"
#include "core/registry.h"
#include "sqlite/admin.h"
#include "sqlite/common.h"
#include "sqlite/sink.h"
#include "sqlite/source.h"

namespace unibus::sqlite_internal {
namespace {

class SqliteBroker : public BrokerConnection, public std::enable_shared_from_this<SqliteBroker> {
 public:
  SqliteBroker(DbConfig config, BrokerOptions options, std::shared_ptr<SqliteAdmin> admin)
      : config_(std::move(config)), options_(std::move(options)), admin_(std::move(admin)) {}

  Capabilities capabilities() const override {
    Capabilities c;
    c.backend = "sqlite";
    c.durable = true;
    c.multi_process = true;
    c.ordering = true;
    c.partitions = false;
    c.native_dead_letter = false;
    c.seek = false;
    c.retention = true;
    c.start_position = true;
    c.survives_broker_restart = true;
    return c;
  }

  absl::StatusOr<std::shared_ptr<PublisherConnection>> MakePublisher(
      const std::string& topic, const PublisherOptions& options) override {
    auto exists = admin_->TopicExists(topic);
    if (!exists.ok()) return exists.status();
    if (!*exists) {
      auto db = Db::Open(config_);
      if (!db.ok()) return db.status();
      if (!options.create_topic_if_missing) return TopicNotFound(**db, topic);
      // Another process may create it at the same moment: that is fine too.
      if (auto s = admin_->CreateTopic(TopicConfig{.name = topic});
          !s.ok() && !absl::IsAlreadyExists(s))
        return s;
    }
    auto db = Db::Open(config_);
    if (!db.ok()) return db.status();
    return core_internal::MakeBatchingPublisher(std::make_shared<SqliteSink>(*std::move(db)), topic,
                                                options, options_.max_message_bytes);
  }

  absl::StatusOr<std::shared_ptr<SubscriberConnection>> MakeSubscriber(
      const std::string& subscription, const SubscriberOptions& options) override {
    auto topic = admin_->SubscriptionTopic(subscription);
    if (!topic.ok()) return topic.status();
    if (!topic->has_value()) {
      auto db = Db::Open(config_);
      if (!db.ok()) return db.status();
      if (options.topic.empty()) return SubscriptionNotFound(**db, subscription);
      SubscriptionConfig c{.name = subscription,
                           .topic = options.topic,
                           .start = options.start,
                           .ack_deadline = options.ack_deadline,
                           .dead_letter_topic = options.dead_letter_topic,
                           .max_delivery_attempts = options.max_delivery_attempts};
      if (auto s = admin_->CreateSubscription(c); !s.ok() && !absl::IsAlreadyExists(s)) return s;
      topic = admin_->SubscriptionTopic(subscription);
      if (!topic.ok()) return topic.status();
      if (!topic->has_value())
        return SubscriptionNotFound(**db, subscription);  // deleted meanwhile
    }
    if (!options.topic.empty() && **topic != options.topic) {
      return absl::InvalidArgumentError(
          absl::StrCat("subscription '", subscription, "' in ", config_.url, " reads topic '",
                       **topic, "', not '", options.topic, "'; use another subscription name"));
    }
    auto db = Db::Open(config_);
    if (!db.ok()) return db.status();
    auto source =
        std::make_shared<SqliteSource>(*std::move(db), subscription, **topic, options.ack_deadline);
    core_internal::DispatcherConfig config{subscription, **topic, options, options_.logger};
    return core_internal::MakeDispatcher(
        std::move(source), std::move(config),
        core_internal::DeadLetterThrough(weak_from_this(), options_.max_message_bytes));
  }

  std::shared_ptr<AdminConnection> admin() override { return admin_; }
  std::string url() const override { return config_.url; }

 private:
  const DbConfig config_;
  const BrokerOptions options_;
  const std::shared_ptr<SqliteAdmin> admin_;
};

absl::Status BadParam(const core_internal::Url& url, const std::string& key,
                      const std::string& value, const char* want) {
  return absl::InvalidArgumentError(
      absl::StrCat("sqlite URL '", core_internal::RedactUrl(url.original), "': parameter ", key,
                   "=", value, " is invalid; expected ", want));
}

}  // namespace

absl::StatusOr<DbConfig> ParseConfig(const core_internal::Url& url, const BrokerOptions& options) {
  DbConfig c;
  c.path = url.body;
  if (c.path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("sqlite URL '", core_internal::RedactUrl(url.original),
                     "' names no file; use sqlite://PATH (relative, e.g. sqlite://unibus.db) or "
                     "sqlite:///abs/path.db"));
  }
  if (c.path == ":memory:" || c.path.rfind("file:", 0) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sqlite URL '", core_internal::RedactUrl(url.original),
                     "': give a plain file path; for an in-memory broker use mem://"));
  }
  std::map<std::string, std::string> params = url.query;
  for (const auto& [k, v] : options.properties) params[k] = v;
  std::string query;
  for (const auto& [k, v] : params) {
    absl::StrAppend(&query, query.empty() ? "?" : "&", k, "=", v);
    std::int64_t n = 0;
    if (k == "busy_timeout_ms") {
      if (!absl::SimpleAtoi(v, &n) || n < 0) return BadParam(url, k, v, "milliseconds >= 0");
      c.busy_timeout = absl::Milliseconds(n);
    } else if (k == "retention_check_ms") {
      if (!absl::SimpleAtoi(v, &n) || n <= 0) return BadParam(url, k, v, "milliseconds > 0");
      c.retention_check = absl::Milliseconds(n);
    } else if (k == "synchronous") {
      if (v != "normal" && v != "full") return BadParam(url, k, v, "normal or full");
      c.synchronous_full = v == "full";
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "sqlite URL '", core_internal::RedactUrl(url.original), "': unknown parameter '", k,
          "'; known: busy_timeout_ms, synchronous, retention_check_ms"));
    }
  }
  c.url = absl::StrCat("sqlite://", c.path, query);
  return c;
}

absl::StatusOr<std::shared_ptr<BrokerConnection>> OpenSqliteBroker(const DbConfig& config,
                                                                   const BrokerOptions& options) {
  auto db = Db::Open(config);
  if (!db.ok()) return db.status();
  // Retention is applied at open and then from the publish path; a locked file
  // only postpones it.
  (void)MaybeApplyRetention(**db);
  return std::make_shared<SqliteBroker>(config, options,
                                        std::make_shared<SqliteAdmin>(*std::move(db)));
}

void RegisterSqliteBackend() {
  core_internal::RegisterBackend(
      "sqlite",
      [](const core_internal::Url& url,
         const BrokerOptions& options) -> absl::StatusOr<std::shared_ptr<BrokerConnection>> {
        auto config = ParseConfig(url, options);
        if (!config.ok()) return config.status();
        return OpenSqliteBroker(*config, options);
      });
}

}  // namespace unibus::sqlite_internal
