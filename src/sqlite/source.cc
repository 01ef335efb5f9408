#include "sqlite/source.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "sqlite/common.h"
#include "sqlite/store.h"

namespace unibus::sqlite_internal {

using core_internal::Delivery;

SqliteSource::SqliteSource(std::unique_ptr<Db> db, std::string subscription, std::string topic,
                           absl::Duration ack_deadline)
    : subscription_(std::move(subscription)),
      topic_(std::move(topic)),
      ack_deadline_ms_(absl::ToInt64Milliseconds(ack_deadline)),
      db_(std::move(db)) {}

absl::StatusOr<std::vector<Delivery>> SqliteSource::Fetch(std::size_t max, std::size_t max_bytes,
                                                          absl::Duration wait) {
  using Clock = std::chrono::steady_clock;
  const auto until = Clock::now() + absl::ToChronoNanoseconds(wait);
  FileState& file = db_->file();
  for (;;) {
    if (closed_.load()) return std::vector<Delivery>{};
    // Read before looking, so that a publish committed after the look wakes the wait.
    // The topic's signal is known after the first look (which reads the topic's id).
    std::shared_ptr<FileState::TopicSignal> signal = signal_;
    const std::uint64_t seen = signal ? signal->commits.load() : 0;
    const std::uint64_t seen_releases = signal ? signal->releases.load() : 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // A release (a nack) is found by a scan of the leases: scan at once after one.
      const bool released = seen_releases != releases_seen_;
      const bool scan = released || NowMillis() >= next_lease_scan_ms_;
      releases_seen_ = seen_releases;
      auto got = TryFetch(max, max_bytes, scan);
      if (scan) next_lease_scan_ms_ = NowMillis() + absl::ToInt64Milliseconds(kLeaseScanInterval);
      if (!got.ok() || !got->empty()) return got;
      auto v = db_->DataVersion();
      if (!v.ok()) return v.status();
      data_version_ = *v;
      if (!signal || signal_topic_id_ != topic_id_) {
        // First wait, or the subscription's topic changed: take its signal and look
        // again, so that no commit falls between the look and the wait.
        auto fresh = file.SignalFor(topic_id_);
        std::lock_guard<std::mutex> file_lock(file.mu);
        signal_ = std::move(fresh);
        signal_topic_id_ = topic_id_;
        continue;
      }
    }
    // Nothing now: sleep until this process commits to the topic, another process's
    // commit shows in data_version, a lease scan is due, or time is up.
    for (;;) {
      const auto now = Clock::now();
      if (now >= until) return std::vector<Delivery>{};
      {
        std::unique_lock<std::mutex> lock(file.mu);
        signal->cv.wait_until(lock, std::min(until, now + absl::ToChronoNanoseconds(kPollInterval)),
                              [&] { return closed_.load() || signal->commits.load() != seen; });
      }
      if (closed_.load()) return std::vector<Delivery>{};
      if (signal->commits.load() != seen) break;
      std::lock_guard<std::mutex> lock(mu_);
      auto v = db_->DataVersion();
      if (!v.ok()) return v.status();
      if (*v != data_version_ || NowMillis() >= next_lease_scan_ms_) break;
    }
  }
}

absl::StatusOr<bool> SqliteSource::MayHaveWork(bool scan) {
  Db& db = *db_;
  {
    auto q = db.Prepare(
        "SELECT s.id, s.topic_id, s.cursor, t.next_seq FROM subscriptions s "
        "JOIN topics t ON t.id = s.topic_id WHERE s.name = ?1");
    if (!q.ok()) return q.status();
    StmtScope s(*q);
    s->BindText(1, subscription_);
    const int rc = s->Step();
    if (rc == SQLITE_DONE) return SubscriptionNotFound(db, subscription_);
    if (rc != SQLITE_ROW)
      return db.Error(rc, absl::StrCat("reading subscription '", subscription_, "'"));
    sub_id_ = s->Int(0);
    topic_id_ = s->Int(1);
    cursor_ = s->Int(2);
    next_seq_ = s->Int(3);
  }
  if (cursor_ < next_seq_) return true;
  if (!scan) return false;
  auto q = db.Prepare("SELECT 1 FROM leases WHERE sub_id = ?1 AND deadline_ms <= ?2 LIMIT 1");
  if (!q.ok()) return q.status();
  StmtScope s(*q);
  s->Bind(1, sub_id_);
  s->Bind(2, NowMillis());
  const int rc = s->Step();
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) return db.Error(rc, "looking for expired leases");
  return false;
}

absl::StatusOr<std::vector<Delivery>> SqliteSource::TryFetch(std::size_t max, std::size_t max_bytes,
                                                             bool scan) {
  std::vector<Delivery> out;
  // A cheap read first, so that an idle consumer never takes SQLite's write lock.
  Db& db = *db_;
  absl::StatusOr<bool> work = false;
  if (auto st = db.Read([&] { return (work = MayHaveWork(scan)).status(); }); !st.ok()) return st;
  if (!*work) return out;
  absl::Status s = db.Write([&]() -> absl::Status {
    out.clear();
    // Read again under the lock: another consumer may have leased them meanwhile.
    auto fresh = MayHaveWork(false);
    if (!fresh.ok()) return fresh.status();
    const std::int64_t now = NowMillis();
    std::size_t bytes = 0;
    if (scan) {
      if (auto st = LeaseExpired(max, max_bytes, now, &bytes, &out); !st.ok()) return st;
    }
    if (out.size() < max && bytes < max_bytes && cursor_ < next_seq_) {
      if (auto st = LeaseNew(max, max_bytes, now, &bytes, &out); !st.ok()) return st;
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

Delivery SqliteSource::MakeDelivery(Stmt& row, int c, std::int64_t seq, std::int64_t attempts) {
  Delivery d;
  Message& m = d.message;
  m.id = absl::StrCat(seq);
  m.publish_time = absl::FromUnixMicros(row.Int(c));
  m.ordering_key = std::string(row.Text(c + 1));
  if (!DecodeAttributes(row.Blob(c + 2), &m.attributes)) {
    m.attributes["unibus-sqlite-warning"] = "attributes blob was malformed";
  }
  m.data = std::string(row.Blob(c + 3));
  m.topic = topic_;
  m.delivery_attempt = static_cast<int>(attempts);
  d.token = LeaseToken(seq, attempts);
  return d;
}

absl::Status SqliteSource::LeaseExpired(std::size_t max, std::size_t max_bytes, std::int64_t now,
                                        std::size_t* bytes, std::vector<Delivery>* out) {
  Db& db = *db_;
  std::vector<std::int64_t> gone;  // leases whose message retention removed
  {
    auto q = db.Prepare(
        "SELECT l.seq, l.attempts, m.publish_us, m.ordering_key, m.attributes, m.data FROM leases "
        "l "
        "LEFT JOIN messages m ON m.topic_id = ?2 AND m.seq = l.seq "
        "WHERE l.sub_id = ?1 AND l.deadline_ms <= ?3 ORDER BY l.seq LIMIT ?4");
    if (!q.ok()) return q.status();
    StmtScope s(*q);
    s->Bind(1, sub_id_);
    s->Bind(2, topic_id_);
    s->Bind(3, now);
    s->Bind(4, static_cast<std::int64_t>(max));
    int rc = SQLITE_DONE;
    while (out->size() < max && *bytes < max_bytes && (rc = s->Step()) == SQLITE_ROW) {
      const std::int64_t seq = s->Int(0);
      if (sqlite3_column_type(s->get(), 2) == SQLITE_NULL) {
        gone.push_back(seq);
        continue;
      }
      out->push_back(MakeDelivery(*s, 2, seq, s->Int(1) + 1));
      *bytes += out->back().message.ByteSize();
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db.Error(rc, "reading expired leases");
  }
  auto up = db.Prepare(
      "UPDATE leases SET deadline_ms = ?3, attempts = ?4 WHERE sub_id = ?1 AND seq = ?2");
  if (!up.ok()) return up.status();
  for (const Delivery& d : *out) {
    StmtScope u(*up);
    std::int64_t seq, attempts;
    ParseLeaseToken(d.token, &seq, &attempts);
    u->Bind(1, sub_id_);
    u->Bind(2, seq);
    u->Bind(3, now + ack_deadline_ms_);
    u->Bind(4, attempts);
    const int rc = u->Step();
    if (rc != SQLITE_DONE) return db.Error(rc, "renewing an expired lease");
  }
  auto del = db.Prepare("DELETE FROM leases WHERE sub_id = ?1 AND seq = ?2");
  if (!del.ok()) return del.status();
  for (std::int64_t seq : gone) {
    StmtScope d(*del);
    d->Bind(1, sub_id_);
    d->Bind(2, seq);
    const int rc = d->Step();
    if (rc != SQLITE_DONE) return db.Error(rc, "dropping a lease on a deleted message");
  }
  return absl::OkStatus();
}

absl::Status SqliteSource::LeaseNew(std::size_t max, std::size_t max_bytes, std::int64_t now,
                                    std::size_t* bytes, std::vector<Delivery>* out) {
  Db& db = *db_;
  const std::size_t before = out->size();
  std::int64_t cursor = cursor_;
  std::int64_t first_seq = -1, last_seq = -1;
  bool exhausted = false;
  {
    auto q = db.Prepare(
        "SELECT seq, publish_us, ordering_key, attributes, data FROM messages "
        "WHERE topic_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3");
    if (!q.ok()) return q.status();
    StmtScope s(*q);
    const std::size_t want = max - out->size();
    s->Bind(1, topic_id_);
    s->Bind(2, cursor_);
    s->Bind(3, static_cast<std::int64_t>(want));
    std::size_t taken = 0;
    int rc = SQLITE_DONE;
    while (taken < want && *bytes < max_bytes && (rc = s->Step()) == SQLITE_ROW) {
      const std::int64_t seq = s->Int(0);
      out->push_back(MakeDelivery(*s, 1, seq, 1));
      *bytes += out->back().message.ByteSize();
      ++taken;
      if (first_seq < 0) first_seq = seq;
      last_seq = seq;
      cursor = seq + 1;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db.Error(rc, "reading messages");
    exhausted = rc == SQLITE_DONE;
  }
  if (first_seq >= 0) {
    // The rows read are every message of [first_seq, last_seq] (an ordered scan of
    // the topic from the cursor): one statement leases them all, rather than one
    // INSERT per message (each a statement run, about a third of a fetch's CPU).
    auto ins = db.Prepare(
        "INSERT OR REPLACE INTO leases(sub_id, seq, deadline_ms, attempts) "
        "SELECT ?1, seq, ?2, 1 FROM messages WHERE topic_id = ?3 AND seq >= ?4 AND seq <= ?5");
    if (!ins.ok()) return ins.status();
    StmtScope i(*ins);
    i->Bind(1, sub_id_);
    i->Bind(2, now + ack_deadline_ms_);
    i->Bind(3, topic_id_);
    i->Bind(4, first_seq);
    i->Bind(5, last_seq);
    const int irc = i->Step();
    ++lease_statements_;
    if (irc != SQLITE_DONE) return db.Error(irc, "leasing messages");
    const auto leased = static_cast<std::size_t>(sqlite3_changes(db.handle()));
    if (leased != out->size() - before) {
      return absl::InternalError(absl::StrCat(db.config().url, ": leased ", leased,
                                              " messages of seq ", first_seq, "..", last_seq,
                                              ", read ", out->size() - before));
    }
  }
  // Past the last stored message (retention may have removed the ones below).
  if (exhausted) cursor = next_seq_;
  auto up = db.Prepare("UPDATE subscriptions SET cursor = ?2 WHERE id = ?1");
  if (!up.ok()) return up.status();
  StmtScope u(*up);
  u->Bind(1, sub_id_);
  u->Bind(2, cursor);
  const int rc = u->Step();
  if (rc != SQLITE_DONE) return db.Error(rc, "advancing the subscription's cursor");
  cursor_ = cursor;
  return absl::OkStatus();
}

absl::Status SqliteSource::ForEachToken(const std::vector<std::string>& tokens, const char* sql,
                                        std::int64_t extra, const char* what) {
  if (tokens.empty()) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(mu_);
  if (sub_id_ < 0) return absl::OkStatus();  // nothing was ever leased
  Db& db = *db_;
  std::string bad;
  absl::Status s = db.Write([&]() -> absl::Status {
    auto q = db.Prepare(sql);
    if (!q.ok()) return q.status();
    const int params = sqlite3_bind_parameter_count((*q)->get());
    for (const std::string& token : tokens) {
      std::int64_t seq, attempts;
      if (!ParseLeaseToken(token, &seq, &attempts)) {
        bad = token;
        continue;
      }
      StmtScope st(*q);
      st->Bind(1, sub_id_);
      st->Bind(2, seq);
      if (params >= 3) st->Bind(3, attempts);
      if (params >= 4) st->Bind(4, extra);
      const int rc = st->Step();
      if (rc != SQLITE_DONE) return db.Error(rc, what);
    }
    return absl::OkStatus();
  });
  if (s.ok() && !bad.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("'", bad, "' is not a sqlite lease token"));
  }
  return s;
}

absl::Status SqliteSource::Ack(const std::vector<std::string>& tokens) {
  // Whoever holds the lease now, the message was handled: delete it. Acks mostly come
  // in runs of consecutive sequence numbers (a fetched batch, handled in order): one
  // DELETE per run rather than one per message.
  if (tokens.empty()) return absl::OkStatus();
  std::vector<std::int64_t> seqs;
  seqs.reserve(tokens.size());
  std::string bad;
  for (const std::string& token : tokens) {
    std::int64_t seq, attempts;
    if (ParseLeaseToken(token, &seq, &attempts)) {
      seqs.push_back(seq);
    } else {
      bad = token;
    }
  }
  std::sort(seqs.begin(), seqs.end());
  seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  std::lock_guard<std::mutex> lock(mu_);
  if (sub_id_ < 0) return absl::OkStatus();  // nothing was ever leased
  Db& db = *db_;
  absl::Status s = db.Write([&]() -> absl::Status {
    auto q = db.Prepare("DELETE FROM leases WHERE sub_id = ?1 AND seq >= ?2 AND seq <= ?3");
    if (!q.ok()) return q.status();
    for (std::size_t i = 0; i < seqs.size();) {
      std::size_t j = i + 1;
      while (j < seqs.size() && seqs[j] == seqs[j - 1] + 1) ++j;
      StmtScope st(*q);
      st->Bind(1, sub_id_);
      st->Bind(2, seqs[i]);
      st->Bind(3, seqs[j - 1]);
      const int rc = st->Step();
      ++lease_statements_;
      if (rc != SQLITE_DONE) return db.Error(rc, "acknowledging messages");
      i = j;
    }
    return absl::OkStatus();
  });
  if (s.ok() && !bad.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("'", bad, "' is not a sqlite lease token"));
  }
  return s;
}

absl::Status SqliteSource::Release(const std::vector<std::string>& tokens) {
  auto s = ForEachToken(
      tokens, "UPDATE leases SET deadline_ms = ?4 WHERE sub_id = ?1 AND seq = ?2 AND attempts = ?3",
      0, "releasing leases");
  if (s.ok()) {
    std::int64_t topic_id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      topic_id = topic_id_;
    }
    db_->file().NotifyCommit(topic_id, /*released=*/true);  // its topic's messages
  }
  return s;
}

absl::Status SqliteSource::ExtendLeases(const std::vector<std::string>& tokens,
                                        absl::Duration deadline) {
  return ForEachToken(
      tokens, "UPDATE leases SET deadline_ms = ?4 WHERE sub_id = ?1 AND seq = ?2 AND attempts = ?3",
      NowMillis() + absl::ToInt64Milliseconds(deadline), "extending leases");
}

void SqliteSource::Close() {
  FileState& file = db_->file();
  std::shared_ptr<FileState::TopicSignal> signal;
  {
    std::lock_guard<std::mutex> lock(file.mu);
    closed_.store(true);
    signal = signal_;
  }
  if (signal) signal->cv.notify_all();
}

}  // namespace unibus::sqlite_internal
