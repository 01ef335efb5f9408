#include "sqlite/sqlite_broker.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/batching_publisher.h"
#include "core/registry.h"
#include "spdlog/logger.h"
#include "sqlite/admin.h"
#include "sqlite/common.h"
#include "sqlite/sink.h"
#include "sqlite/source.h"

namespace unibus::sqlite_internal {
namespace {

class SqliteTransport : public core_internal::Transport {
 public:
  SqliteTransport(DbConfig config, BrokerOptions options, std::shared_ptr<SqliteAdmin> admin)
      : config_(std::move(config)), options_(std::move(options)), admin_(std::move(admin)) {}

  // A message is a row: no limit but BrokerOptions::max_message_bytes (SQLite's own
  // is 1 GB).
  Capabilities capabilities() const override {
    Capabilities c;
    c.backend = "sqlite";
    c.durable = true;
    c.multi_process = true;
    c.ordering = true;
    c.partitions = false;
    c.native_dead_letter = false;
    c.retention = true;
    c.start_position = true;
    c.survives_broker_restart = true;
    c.max_message_bytes = c.max_attributes = c.max_attribute_key_bytes =
        c.max_attribute_value_bytes = c.max_ordering_key_bytes = options_.max_message_bytes;
    return c;
  }

  absl::Status CheckTopic(const std::string& topic) override {
    auto exists = admin_->TopicExists(topic);
    if (!exists.ok()) return exists.status();
    return *exists ? absl::OkStatus() : absl::NotFoundError(topic);
  }

  absl::StatusOr<std::string> SubscriptionTopic(const std::string& subscription,
                                                const std::string& /*expected*/) override {
    auto topic = admin_->SubscriptionTopic(subscription);
    if (!topic.ok()) return topic.status();
    if (!topic->has_value()) return absl::NotFoundError(subscription);
    return **topic;
  }

  absl::StatusOr<std::shared_ptr<PublisherConnection>> MakePublisher(
      const std::string& topic, const PublisherOptions& options) override {
    auto db = Db::Open(config_);
    if (!db.ok()) return db.status();
    return core_internal::MakeBatchingPublisher(std::make_shared<SqliteSink>(*std::move(db)), topic,
                                                options, options_.max_message_bytes);
  }

  absl::StatusOr<std::shared_ptr<core_internal::SubscriptionSource>> MakeSource(
      const std::string& subscription, const std::string& topic,
      const SubscriberOptions& options) override {
    auto db = Db::Open(config_);
    if (!db.ok()) return db.status();
    return std::make_shared<SqliteSource>(*std::move(db), subscription, topic,
                                          options.ack_deadline);
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

namespace {

// Files made before 2026-12-03 keep messages in a WITHOUT ROWID table, where a row
// over about 1,000 bytes takes an overflow page of its own (schema.cc). They work as
// they are; the log says so once per broker, at info level, with the way to move.
void NoteEarlierLayout(Db& db, const DbConfig& config, const BrokerOptions& options) {
  if (!options.logger) return;
  auto q = db.Prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'messages'");
  if (!q.ok()) return;
  StmtScope s(*q);
  if (s->Step() != SQLITE_ROW) return;
  // SQLite keeps the CREATE statement as written; unibus wrote it in capitals.
  if (s->Text(0).find("WITHOUT ROWID") != std::string_view::npos) {
    options.logger->info(
        "{}: messages are stored in the earlier WITHOUT ROWID layout, where each message "
        "over about 1,000 bytes takes a 4 KiB overflow page; it works as it is, and README "
        "(\"An image row no longer takes a page of its own\") shows how to move the file to "
        "the rowid layout",
        config.url);
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<core_internal::Transport>> OpenSqliteTransport(
    const DbConfig& config, const BrokerOptions& options) {
  auto db = Db::Open(config);
  if (!db.ok()) return db.status();
  NoteEarlierLayout(**db, config, options);
  // Retention is applied at open and then from the publish path; a locked file
  // only postpones it.
  (void)MaybeApplyRetention(**db);
  return std::make_shared<SqliteTransport>(config, options,
                                           std::make_shared<SqliteAdmin>(*std::move(db)));
}

void RegisterSqliteBackend() {
  core_internal::RegisterBackend("sqlite",
                                 [](const core_internal::Url& url, const BrokerOptions& options)
                                     -> absl::StatusOr<std::shared_ptr<core_internal::Transport>> {
                                   auto config = ParseConfig(url, options);
                                   if (!config.ok()) return config.status();
                                   return OpenSqliteTransport(*config, options);
                                 });
}

}  // namespace unibus::sqlite_internal
