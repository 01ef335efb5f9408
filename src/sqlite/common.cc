#include "sqlite/common.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "sqlite/db.h"
#include "sqlite/store.h"

namespace unibus::sqlite_internal {
namespace {

void PutU32(std::string* out, std::size_t n) {
  const auto v = static_cast<std::uint32_t>(n);
  char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
               static_cast<char>(v >> 24)};
  out->append(b, 4);
}

bool GetU32(std::string_view* in, std::size_t* n) {
  if (in->size() < 4) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(in->data());
  *n = static_cast<std::size_t>(p[0]) | static_cast<std::size_t>(p[1]) << 8 |
       static_cast<std::size_t>(p[2]) << 16 | static_cast<std::size_t>(p[3]) << 24;
  in->remove_prefix(4);
  return true;
}

bool GetString(std::string_view* in, std::string* out) {
  std::size_t n;
  if (!GetU32(in, &n) || in->size() < n) return false;
  out->assign(in->data(), n);
  in->remove_prefix(n);
  return true;
}

}  // namespace

std::string EncodeAttributes(const std::map<std::string, std::string>& attributes) {
  std::string out;
  for (const auto& [k, v] : attributes) {
    PutU32(&out, k.size());
    out.append(k);
    PutU32(&out, v.size());
    out.append(v);
  }
  return out;
}

bool DecodeAttributes(std::string_view blob, std::map<std::string, std::string>* out) {
  while (!blob.empty()) {
    std::string k, v;
    if (!GetString(&blob, &k) || !GetString(&blob, &v)) return false;
    out->emplace(std::move(k), std::move(v));
  }
  return true;
}

absl::Status TopicNotFound(const Db& db, std::string_view topic_view, bool publishing) {
  const std::string topic(topic_view);
  return absl::NotFoundError(absl::StrCat(
      "topic '", topic, "' does not exist in ", db.config().url,
      "; create it with `unibus topics create ", topic, "`",
      publishing ? " (or set PublisherOptions::create_topic_if_missing; unibus publish "
                   "--create-topic)"
                 : ""));
}

absl::Status SubscriptionNotFound(const Db& db, std::string_view subscription_view) {
  const std::string subscription(subscription_view);
  return absl::NotFoundError(absl::StrCat("subscription '", subscription, "' does not exist in ",
                                          db.config().url, "; create it with `unibus ",
                                          "subscriptions create ", subscription,
                                          " --topic TOPIC` or set SubscriberOptions::topic"));
}

std::string LeaseToken(std::int64_t seq, std::int64_t attempts) {
  return absl::StrCat(seq, ".", attempts);
}

bool ParseLeaseToken(std::string_view token, std::int64_t* seq, std::int64_t* attempts) {
  const auto dot = token.find('.');
  if (dot == std::string_view::npos) return false;
  return absl::SimpleAtoi(absl::string_view(token.data(), dot), seq) &&
         absl::SimpleAtoi(absl::string_view(token.data() + dot + 1, token.size() - dot - 1),
                          attempts);
}

absl::Status ApplyRetention(Db& db, std::int64_t now_us) {
  struct Topic {
    std::int64_t id, next_seq, retention_ms, retention_messages;
  };
  return db.Write([&]() -> absl::Status {
    std::vector<Topic> topics;
    {
      auto q = db.Prepare("SELECT id, next_seq, retention_ms, retention_messages FROM topics");
      if (!q.ok()) return q.status();
      StmtScope s(*q);
      int rc;
      while ((rc = s->Step()) == SQLITE_ROW)
        topics.push_back({s->Int(0), s->Int(1), s->Int(2), s->Int(3)});
      if (rc != SQLITE_DONE) return db.Error(rc, "listing topics for retention");
    }
    for (const Topic& t : topics) {
      // Every message below `keep` goes.
      std::int64_t keep = 0;
      if (t.retention_messages > 0) keep = t.next_seq - t.retention_messages;
      if (t.retention_ms > 0) {
        // Sequence order is publish order, so the first young message bounds the old
        // ones; the scan reads only rows that are about to be deleted.
        auto q = db.Prepare(
            "SELECT seq FROM messages WHERE topic_id = ?1 AND seq >= ?2 AND publish_us >= ?3 "
            "ORDER BY seq LIMIT 1");
        if (!q.ok()) return q.status();
        StmtScope s(*q);
        s->Bind(1, t.id);
        s->Bind(2, keep);
        s->Bind(3, now_us - t.retention_ms * 1000);
        const int rc = s->Step();
        if (rc == SQLITE_ROW) {
          keep = std::max(keep, s->Int(0));
        } else if (rc == SQLITE_DONE) {
          keep = t.next_seq;  // all are old
        } else {
          return db.Error(rc, "finding expired messages");
        }
      }
      if (keep <= 0) continue;
      for (const char* sql :
           {"DELETE FROM messages WHERE topic_id = ?1 AND seq < ?2",
            "DELETE FROM leases WHERE sub_id IN (SELECT id FROM subscriptions WHERE "
            "topic_id = ?1) AND seq < ?2"}) {
        auto d = db.Prepare(sql);
        if (!d.ok()) return d.status();
        StmtScope s(*d);
        s->Bind(1, t.id);
        s->Bind(2, keep);
        const int rc = s->Step();
        if (rc != SQLITE_DONE) return db.Error(rc, "deleting expired messages");
      }
    }
    return absl::OkStatus();
  });
}

absl::Status MaybeApplyRetention(Db& db) {
  const std::int64_t now = NowMicros();
  auto& next = db.file().next_retention_us;
  std::int64_t due = next.load(std::memory_order_relaxed);
  if (now < due) return absl::OkStatus();
  // One thread per process runs the pass; the others carry on.
  if (!next.compare_exchange_strong(due,
                                    now + absl::ToInt64Microseconds(db.config().retention_check))) {
    return absl::OkStatus();
  }
  return ApplyRetention(db, now);
}

}  // namespace unibus::sqlite_internal
