#include "bench/sqlite_baseline.h"

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace unibus::bench {
namespace {

struct Closer {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct Finalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using DbPtr = std::unique_ptr<sqlite3, Closer>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, Finalizer>;

absl::Status Fail(sqlite3* db, const std::string& path, const char* what) {
  return absl::InternalError(absl::StrCat("raw-sqlite baseline on ", path, ": ", what, ": ",
                                          db ? sqlite3_errmsg(db) : "cannot open"));
}

absl::StatusOr<StmtPtr> Prepare(sqlite3* db, const std::string& path, const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) return Fail(db, path, sql);
  return StmtPtr(s);
}

absl::StatusOr<BaselineResult> Run(sqlite3* db, const std::string& path, const BaselineParams& p) {
  // The pragmas of unibus's own connections (src/sqlite/db.cc). Unlike unibus, which
  // checkpoints the WAL on a thread of its own, the baseline leaves it to SQLite's
  // automatic checkpoint, run by the committing thread as a plain SQLite user's is.
  // The table layout is the faster one for the rows' size, as a raw user who knows
  // it would choose: WITHOUT ROWID while a row fits an index b-tree cell (1,002 bytes
  // of a 4 KiB page; a raw loop of reads and deletes by key ran 13-19 % faster on it
  // with 100-byte rows), a rowid table beyond (unibus's layout, src/sqlite/schema.cc),
  // where WITHOUT ROWID would give each row an overflow page of its own.
  const bool without_rowid = p.size <= 900;
  const std::string setup = absl::StrCat(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-8192;"
      "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=268435456;"
      "CREATE TABLE messages(topic_id INTEGER NOT NULL, seq INTEGER NOT NULL, publish_us INTEGER "
      "NOT NULL, ordering_key TEXT, attributes BLOB, data BLOB NOT NULL, "
      "PRIMARY KEY(topic_id, seq))",
      without_rowid ? " WITHOUT ROWID;" : ";");
  if (sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
    return Fail(db, path, "creating the table");
  auto insert =
      Prepare(db, path,
              "INSERT INTO messages(topic_id, seq, publish_us, ordering_key, attributes, data) "
              "VALUES(1, ?1, ?2, NULL, NULL, ?3)");
  auto read = Prepare(db, path,
                      "SELECT seq, publish_us, ordering_key, attributes, data FROM messages "
                      "WHERE topic_id = 1 AND seq >= ?1 ORDER BY seq LIMIT ?2");
  auto ack = Prepare(db, path, "DELETE FROM messages WHERE topic_id = 1 AND seq = ?1");
  auto begin = Prepare(db, path, "BEGIN IMMEDIATE");
  auto commit = Prepare(db, path, "COMMIT");
  for (auto* s : {&insert, &read, &ack, &begin, &commit}) {
    if (!s->ok()) return s->status();
  }
  auto step = [&](sqlite3_stmt* s, int want, const char* what) -> absl::Status {
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == want ? absl::OkStatus() : Fail(db, path, what);
  };
  const std::string payload(static_cast<std::size_t>(p.size), 'x');
  BaselineResult r{.name = "raw-sqlite"};

  const absl::Time start = absl::Now();
  for (int i = 0; i < p.messages;) {
    if (auto s = step(begin->get(), SQLITE_DONE, "BEGIN"); !s.ok()) return s;
    const std::int64_t now = absl::ToUnixMicros(absl::Now());
    for (int j = 0; j < p.batch && i < p.messages; ++j, ++i) {
      sqlite3_stmt* s = insert->get();
      sqlite3_bind_int64(s, 1, i + 1);
      sqlite3_bind_int64(s, 2, now);
      sqlite3_bind_blob(s, 3, payload.data(), static_cast<int>(payload.size()), SQLITE_STATIC);
      if (auto st = step(s, SQLITE_DONE, "insert"); !st.ok()) return st;
    }
    if (auto s = step(commit->get(), SQLITE_DONE, "COMMIT"); !s.ok()) return s;
  }
  r.publish_per_s = p.messages / absl::ToDoubleSeconds(absl::Now() - start);

  const absl::Time cstart = absl::Now();
  std::int64_t cursor = 1;
  std::size_t bytes = 0;
  int got = 0;
  std::vector<std::int64_t> seqs;
  std::vector<std::string> data;  // the reader copies each row out, as a consumer does
  while (got < p.messages) {
    if (auto s = step(begin->get(), SQLITE_DONE, "BEGIN"); !s.ok()) return s;
    seqs.clear();
    data.clear();
    sqlite3_stmt* q = read->get();
    sqlite3_bind_int64(q, 1, cursor);
    sqlite3_bind_int64(q, 2, p.batch);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
      seqs.push_back(sqlite3_column_int64(q, 0));
      data.emplace_back(static_cast<const char*>(sqlite3_column_blob(q, 4)),
                        static_cast<std::size_t>(sqlite3_column_bytes(q, 4)));
      bytes += data.back().size();
    }
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) return Fail(db, path, "ordered read");
    if (seqs.empty()) return Fail(db, path, "rows missing");
    for (std::int64_t seq : seqs) {
      sqlite3_bind_int64(ack->get(), 1, seq);
      if (auto s = step(ack->get(), SQLITE_DONE, "ack"); !s.ok()) return s;
    }
    if (auto s = step(commit->get(), SQLITE_DONE, "COMMIT"); !s.ok()) return s;
    cursor = seqs.back() + 1;
    got += static_cast<int>(seqs.size());
  }
  r.consume_per_s = p.messages / absl::ToDoubleSeconds(absl::Now() - cstart);
  if (bytes != static_cast<std::size_t>(p.messages) * static_cast<std::size_t>(p.size)) {
    return Fail(db, path, "read back the wrong number of bytes");
  }
  return r;
}

}  // namespace

std::string SqliteBaselinePath(const core_internal::Url& url) {
  std::filesystem::path db(url.body.empty() ? "unibus.db" : url.body);
  return (db.parent_path() / absl::StrCat(".unibus-raw-baseline-", getpid(), ".db")).string();
}

absl::StatusOr<BaselineResult> RunSqliteBaseline(const std::string& path,
                                                 const BaselineParams& params) {
  auto remove = [&] {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  };
  remove();
  absl::StatusOr<BaselineResult> r;
  {
    sqlite3* raw = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    DbPtr db(raw);
    r = rc == SQLITE_OK ? Run(raw, path, params) : Fail(raw, path, "opening");
  }
  remove();
  return r;
}

}  // namespace unibus::bench
