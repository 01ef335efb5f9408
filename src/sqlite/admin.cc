#include "sqlite/admin.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "sqlite/common.h"
#include "sqlite/store.h"

namespace unibus::sqlite_internal {
namespace {

// Runs `q` once and returns its first column, or nullopt when it has no row.
absl::StatusOr<std::optional<std::int64_t>> OneInt(Db& db, Stmt& q, const char* what) {
  const int rc = q.Step();
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return db.Error(rc, what);
  return q.Int(0);
}

absl::StatusOr<std::optional<std::int64_t>> TopicId(Db& db, const std::string& name) {
  auto q = db.Prepare("SELECT id FROM topics WHERE name = ?1");
  if (!q.ok()) return q.status();
  StmtScope s(*q);
  s->BindText(1, name);
  return OneInt(db, **q, "looking up a topic");
}

absl::Status Run(Db& db, const char* sql, std::int64_t a, const char* what) {
  auto q = db.Prepare(sql);
  if (!q.ok()) return q.status();
  StmtScope s(*q);
  s->Bind(1, a);
  const int rc = s->Step();
  if (rc != SQLITE_DONE) return db.Error(rc, what);
  return absl::OkStatus();
}

}  // namespace

absl::Status SqliteAdmin::CreateTopic(const TopicConfig& c) {
  // The core's policy layer has refused a negative or infinite retention already.
  const absl::Duration retention =
      c.retention == absl::ZeroDuration() ? kDefaultRetention : c.retention;
  std::lock_guard<std::mutex> lock(mu_);
  Db& db = *db_;
  return db.Write([&]() -> absl::Status {
    auto id = TopicId(db, c.name);
    if (!id.ok()) return id.status();
    if (id->has_value()) {
      return absl::AlreadyExistsError(
          absl::StrCat("topic '", c.name, "' already exists in ", db.config().url));
    }
    auto q = db.Prepare(
        "INSERT INTO topics(name, next_seq, retention_ms, retention_messages, created_ms) "
        "VALUES(?1, 1, ?2, ?3, ?4)");
    if (!q.ok()) return q.status();
    StmtScope s(*q);
    s->BindText(1, c.name);
    s->Bind(2, absl::ToInt64Milliseconds(retention));
    s->Bind(3, c.retention_messages);
    s->Bind(4, NowMillis());
    const int rc = s->Step();
    if (rc != SQLITE_DONE) return db.Error(rc, absl::StrCat("creating topic '", c.name, "'"));
    return absl::OkStatus();
  });
}

absl::Status SqliteAdmin::DeleteTopic(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  Db& db = *db_;
  std::int64_t topic_id = -1;
  absl::Status s = db.Write([&]() -> absl::Status {
    auto id = TopicId(db, name);
    if (!id.ok()) return id.status();
    if (!id->has_value()) return TopicNotFound(db, name);
    topic_id = **id;
    // Its subscriptions go with it, as on Pub/Sub (there they are detached).
    for (const char* sql :
         {"DELETE FROM leases WHERE sub_id IN (SELECT id FROM subscriptions WHERE topic_id = ?1)",
          "DELETE FROM subscriptions WHERE topic_id = ?1",
          "DELETE FROM messages WHERE topic_id = ?1", "DELETE FROM topics WHERE id = ?1"}) {
      if (auto s = Run(db, sql, **id, "deleting a topic"); !s.ok()) return s;
    }
    return absl::OkStatus();
  });
  // Fetches waiting on the topic look again (and find their subscription gone).
  if (s.ok()) db.file().NotifyCommit(topic_id);
  return s;
}

absl::StatusOr<std::vector<std::string>> SqliteAdmin::Names(const char* sql) {
  std::lock_guard<std::mutex> lock(mu_);
  Db& db = *db_;
  auto q = db.Prepare(sql);
  if (!q.ok()) return q.status();
  StmtScope s(*q);
  std::vector<std::string> out;
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) out.emplace_back(s->Text(0));
  if (rc != SQLITE_DONE) return db.Error(rc, "listing names");
  return out;
}

absl::StatusOr<std::vector<std::string>> SqliteAdmin::ListTopics() {
  return Names("SELECT name FROM topics ORDER BY name");
}

absl::StatusOr<std::vector<std::string>> SqliteAdmin::ListSubscriptions() {
  return Names("SELECT name FROM subscriptions ORDER BY name");
}

absl::StatusOr<TopicInfo> SqliteAdmin::DescribeTopic(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  Db& db = *db_;
  auto q = db.Prepare(
      "SELECT t.next_seq, t.retention_ms, t.retention_messages, "
      "(SELECT min(seq) FROM messages m WHERE m.topic_id = t.id) FROM topics t WHERE t.name = ?1");
  if (!q.ok()) return q.status();
  StmtScope s(*q);
  s->BindText(1, name);
  const int rc = s->Step();
  if (rc == SQLITE_DONE) return TopicNotFound(db, name);
  if (rc != SQLITE_ROW) return db.Error(rc, absl::StrCat("describing topic '", name, "'"));
  TopicInfo info;
  info.name = name;
  const std::int64_t next = s->Int(0);
  const std::int64_t low = sqlite3_column_type(s->get(), 3) == SQLITE_NULL ? next : s->Int(3);
  info.messages = next - low;
  info.retention = absl::Milliseconds(s->Int(1));
  info.retention_messages = s->Int(2);
  info.partition_info.push_back(PartitionInfo{0, 0, low, next});
  return info;
}

absl::Status SqliteAdmin::CreateSubscription(const SubscriptionConfig& c) {
  std::lock_guard<std::mutex> lock(mu_);
  Db& db = *db_;
  return db.Write([&]() -> absl::Status {
    std::int64_t topic_id, next_seq;
    {
      auto q = db.Prepare("SELECT id, next_seq FROM topics WHERE name = ?1");
      if (!q.ok()) return q.status();
      StmtScope s(*q);
      s->BindText(1, c.topic);
      const int rc = s->Step();
      if (rc == SQLITE_DONE) return TopicNotFound(db, c.topic);
      if (rc != SQLITE_ROW) return db.Error(rc, "looking up a topic");
      topic_id = s->Int(0);
      next_seq = s->Int(1);
    }
    {
      auto q = db.Prepare("SELECT id FROM subscriptions WHERE name = ?1");
      if (!q.ok()) return q.status();
      StmtScope s(*q);
      s->BindText(1, c.name);
      auto id = OneInt(db, **q, "looking up a subscription");
      if (!id.ok()) return id.status();
      if (id->has_value()) {
        return absl::AlreadyExistsError(
            absl::StrCat("subscription '", c.name, "' already exists in ", db.config().url));
      }
    }
    auto q = db.Prepare(
        "INSERT INTO subscriptions(name, topic_id, cursor, ack_deadline_ms, dead_letter_topic, "
        "max_delivery_attempts, created_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!q.ok()) return q.status();
    StmtScope s(*q);
    s->BindText(1, c.name);
    s->Bind(2, topic_id);
    s->Bind(3, c.start == StartPosition::kEarliest ? 0 : next_seq);
    s->Bind(4, absl::ToInt64Milliseconds(c.ack_deadline));
    s->BindText(5, c.dead_letter_topic);
    s->Bind(6, c.max_delivery_attempts);
    s->Bind(7, NowMillis());
    const int rc = s->Step();
    if (rc != SQLITE_DONE)
      return db.Error(rc, absl::StrCat("creating subscription '", c.name, "'"));
    return absl::OkStatus();
  });
}

absl::Status SqliteAdmin::DeleteSubscription(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  Db& db = *db_;
  std::int64_t topic_id = -1;
  absl::Status status = db.Write([&]() -> absl::Status {
    auto q = db.Prepare("SELECT id, topic_id FROM subscriptions WHERE name = ?1");
    if (!q.ok()) return q.status();
    std::optional<std::int64_t> id;
    {
      StmtScope s(*q);
      s->BindText(1, name);
      const int rc = s->Step();
      if (rc == SQLITE_ROW) {
        id = s->Int(0);
        topic_id = s->Int(1);
      } else if (rc != SQLITE_DONE) {
        return db.Error(rc, "looking up a subscription");
      }
    }
    if (!id) return SubscriptionNotFound(db, name);
    if (auto s = Run(db, "DELETE FROM leases WHERE sub_id = ?1", *id, "deleting a subscription");
        !s.ok())
      return s;
    return Run(db, "DELETE FROM subscriptions WHERE id = ?1", *id, "deleting a subscription");
  });
  // Its fetches waiting on the old topic look again: the name may be re-created on
  // another topic, whose publishes would not wake them.
  if (status.ok()) db.file().NotifyCommit(topic_id);
  return status;
}

absl::StatusOr<SubscriptionInfo> SqliteAdmin::DescribeSubscription(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  Db& db = *db_;
  auto q = db.Prepare(
      "SELECT t.name, s.cursor, t.next_seq, s.ack_deadline_ms, s.dead_letter_topic, "
      "(SELECT min(seq) FROM messages m WHERE m.topic_id = t.id), "
      "(SELECT count(*) FROM leases l WHERE l.sub_id = s.id), "
      "(SELECT count(*) FROM leases l WHERE l.sub_id = s.id AND l.deadline_ms > ?2) "
      "FROM subscriptions s JOIN topics t ON t.id = s.topic_id WHERE s.name = ?1");
  if (!q.ok()) return q.status();
  StmtScope s(*q);
  s->BindText(1, name);
  s->Bind(2, NowMillis());
  const int rc = s->Step();
  if (rc == SQLITE_DONE) return SubscriptionNotFound(db, name);
  if (rc != SQLITE_ROW) return db.Error(rc, absl::StrCat("describing subscription '", name, "'"));
  SubscriptionInfo info;
  info.name = name;
  info.topic = std::string(s->Text(0));
  const std::int64_t next = s->Int(2);
  const std::int64_t low = sqlite3_column_type(s->get(), 5) == SQLITE_NULL ? next : s->Int(5);
  info.backlog = std::max<std::int64_t>(0, next - std::max(s->Int(1), low)) + s->Int(6);
  info.in_flight = s->Int(7);
  info.ack_deadline = absl::Milliseconds(s->Int(3));
  info.dead_letter_topic = std::string(s->Text(4));
  return info;
}

absl::StatusOr<bool> SqliteAdmin::TopicExists(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto id = TopicId(*db_, name);
  if (!id.ok()) return id.status();
  return id->has_value();
}

absl::StatusOr<std::optional<std::string>> SqliteAdmin::SubscriptionTopic(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  Db& db = *db_;
  auto q = db.Prepare(
      "SELECT t.name FROM subscriptions s JOIN topics t ON t.id = s.topic_id WHERE s.name = ?1");
  if (!q.ok()) return q.status();
  StmtScope s(*q);
  s->BindText(1, name);
  const int rc = s->Step();
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return db.Error(rc, "looking up a subscription");
  return std::optional<std::string>(std::string(s->Text(0)));
}

absl::Status SqliteAdmin::ApplyRetentionNow() {
  std::lock_guard<std::mutex> lock(mu_);
  return ApplyRetention(*db_, NowMicros());
}

}  // namespace unibus::sqlite_internal
