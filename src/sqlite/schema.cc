#include "sqlite/schema.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sqlite/db.h"

namespace unibus::sqlite_internal {
namespace {

// Topics are logs: a message's key is (topic_id, seq), seq counting up per topic
// from topics.next_seq. A subscription is a cursor (the next seq it has never
// leased) plus its leases: a lease row exists from the moment a message is handed
// to a consumer until it is acked. deadline_ms = 0 marks a released lease, to be
// handed out again at once; an expired one is handed out again too, with
// attempts + 1. WITHOUT ROWID keeps each row in one b-tree keyed the way it is read,
// for the small rows (metadata and leases). Not for messages: a WITHOUT ROWID table
// is an index b-tree, whose cells hold at most (page size - 12) * 64 / 255 - 23 bytes
// (1,002 with 4 KiB pages, https://www.sqlite.org/fileformat2.html#b_tree_pages) and
// which keeps some rows whole in its interior pages too; a larger row spills into an
// overflow page of its own. An image message (834 bytes of data, 222 of attributes)
// took a whole extra 4 KiB page: 10,000 of them made a 50 MB file of 41 MB overflow
// pages, each written to the WAL, copied by the checkpoint and read back by every
// fetch. As a rowid table (its leaf cells up to 4,061 bytes) with its primary key as
// an index, the same run (with its 10,000 predictions) takes 18 MB and no overflow
// page. Small rows pay a little for the second b-tree: with 100-byte messages
// `unibus bench` published and consumed 2-6 % slower (noisy), and a raw loop of reads
// and deletes by key lost 13-19 %. The columns, keys and queries are the same in both
// layouts, so files made by earlier versions (WITHOUT ROWID) keep working as they are
// (a file opened in that layout is logged once, with the way to move it), and the
// schema version stays 1.
constexpr char kSchema[] = R"sql(
CREATE TABLE unibus_meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE topics(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  next_seq INTEGER NOT NULL DEFAULT 1,
  retention_ms INTEGER NOT NULL,
  retention_messages INTEGER NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE messages(
  topic_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  publish_us INTEGER NOT NULL,
  ordering_key TEXT,
  attributes BLOB,
  data BLOB NOT NULL,
  PRIMARY KEY(topic_id, seq));
CREATE TABLE subscriptions(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  topic_id INTEGER NOT NULL,
  cursor INTEGER NOT NULL,
  ack_deadline_ms INTEGER NOT NULL,
  dead_letter_topic TEXT NOT NULL,
  max_delivery_attempts INTEGER NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE INDEX subscriptions_by_topic ON subscriptions(topic_id);
CREATE TABLE leases(
  sub_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  deadline_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  PRIMARY KEY(sub_id, seq)) WITHOUT ROWID;
INSERT INTO unibus_meta VALUES('schema_version', '1'), ('created_by', 'unibus');
PRAGMA application_id = 1431193922;
PRAGMA user_version = 1;
)sql";
static_assert(kApplicationId == 1431193922, "kSchema spells the application id in decimal");

absl::StatusOr<std::int64_t> PragmaInt(Db& db, const char* sql) {
  auto q = db.Prepare(sql);
  if (!q.ok()) return q.status();
  StmtScope s(*q);
  const int rc = s->Step();
  if (rc != SQLITE_ROW) return db.Error(rc, absl::StrCat("reading ", sql));
  return s->Int(0);
}

// Checks the stamp. *fresh is set when the file has no tables at all (new).
absl::Status Check(Db& db, bool* fresh) {
  *fresh = false;
  auto app = PragmaInt(db, "PRAGMA application_id");
  if (!app.ok()) return app.status();
  auto version = PragmaInt(db, "PRAGMA user_version");
  if (!version.ok()) return version.status();
  const auto& c = db.config();
  if (*app == kApplicationId) {
    if (*version > kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          c.url, ": ", c.path, " was written by a newer unibus (schema version ", *version,
          ", this build reads up to ", kSchemaVersion, "); upgrade unibus to use it"));
    }
    if (*version < 1) {
      return absl::FailedPreconditionError(
          absl::StrCat(c.url, ": ", c.path, " is a unibus database with an unknown schema version ",
                       *version, "; it was not created by a released unibus, recreate it"));
    }
    return absl::OkStatus();
  }
  std::vector<std::string> tables;
  auto q = db.Prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name LIMIT 6");
  if (!q.ok()) return q.status();
  StmtScope s(*q);
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) tables.emplace_back(s->Text(0));
  if (rc != SQLITE_DONE) return db.Error(rc, "listing tables");
  if (*app == 0 && tables.empty()) {
    *fresh = true;
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      c.url, ": ", c.path, " is a SQLite database but not a unibus database (application_id ", *app,
      tables.empty() ? "" : ", tables: ", absl::StrJoin(tables, ", "),
      "); unibus will not touch it: point the URL at a unibus database or at a path that does not "
      "exist yet"));
}

// Check in one read transaction: the stamp and the table list from one snapshot. As
// two statements, a schema another process committed between them looked like another
// application's database (stamp 0, tables present).
absl::Status CheckSnapshot(Db& db, bool* fresh) {
  if (auto s = db.Exec("BEGIN"); !s.ok()) return s;
  absl::Status s = Check(db, fresh);
  if (auto end = db.Exec("COMMIT"); s.ok()) s = end;
  return s;
}

}  // namespace

absl::Status EnsureSchema(Db& db) {
  bool fresh = false;
  if (auto s = CheckSnapshot(db, &fresh); !s.ok() || !fresh) return s;
  // Two processes may race to create it: look again inside the write transaction.
  return db.Write([&]() -> absl::Status {
    if (auto s = Check(db, &fresh); !s.ok() || !fresh) return s;
    return db.Exec(kSchema);
  });
}

}  // namespace unibus::sqlite_internal
