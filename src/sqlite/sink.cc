#include "sqlite/sink.h"

#include "absl/strings/str_cat.h"
#include "sqlite/common.h"
#include "sqlite/store.h"

namespace unibus::sqlite_internal {

absl::StatusOr<std::vector<absl::StatusOr<MessageId>>> SqliteSink::PublishBatch(
    const std::string& topic, std::vector<Message>& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  Db& db = *db_;
  std::int64_t first = 0;
  std::int64_t topic_id = -1;
  std::string attributes;
  absl::Status s = db.Write([&]() -> absl::Status {
    {
      auto q = db.Prepare("SELECT id, next_seq FROM topics WHERE name = ?1");
      if (!q.ok()) return q.status();
      StmtScope t(*q);
      t->BindText(1, topic);
      const int rc = t->Step();
      if (rc == SQLITE_DONE) return TopicNotFound(db, topic, /*publishing=*/true);
      if (rc != SQLITE_ROW) return db.Error(rc, absl::StrCat("looking up topic '", topic, "'"));
      topic_id = t->Int(0);
      first = t->Int(1);
    }
    auto ins = db.Prepare(
        "INSERT INTO messages(topic_id, seq, publish_us, ordering_key, attributes, data) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    if (!ins.ok()) return ins.status();
    Stmt& i = **ins;
    const std::int64_t now = NowMicros();
    std::int64_t seq = first;
    for (const Message& m : batch) {
      StmtScope scope(&i);
      i.Bind(1, topic_id);
      i.Bind(2, seq++);
      i.Bind(3, now);
      i.BindTextOrNull(4, m.ordering_key);
      if (m.attributes.empty()) {
        sqlite3_bind_null(i.get(), 5);
      } else {
        attributes = EncodeAttributes(m.attributes);
        i.BindBlob(5, attributes);
      }
      i.BindBlob(6, m.data);
      const int rc = i.Step();
      if (rc != SQLITE_DONE)
        return db.Error(rc, absl::StrCat("storing a message on topic '", topic, "'"));
    }
    auto up = db.Prepare("UPDATE topics SET next_seq = ?2 WHERE id = ?1");
    if (!up.ok()) return up.status();
    StmtScope u(*up);
    u->Bind(1, topic_id);
    u->Bind(2, seq);
    const int rc = u->Step();
    if (rc != SQLITE_DONE) return db.Error(rc, "advancing the topic's sequence");
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  db.file().NotifyCommit(topic_id);
  // Retention failing (say, the file is locked) never fails the publish that was
  // stored; the next check retries.
  (void)MaybeApplyRetention(db);
  std::vector<absl::StatusOr<MessageId>> ids;
  ids.reserve(batch.size());
  for (std::size_t k = 0; k < batch.size(); ++k)
    ids.emplace_back(absl::StrCat(first + static_cast<std::int64_t>(k)));
  return ids;
}

}  // namespace unibus::sqlite_internal
