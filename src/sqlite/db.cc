#include "sqlite/db.h"

#include <algorithm>
#include <cerrno>
#include <exception>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sqlite/schema.h"
#include "sqlite/store.h"

namespace unibus::sqlite_internal {

std::int64_t NowMicros() { return absl::ToUnixMicros(absl::Now()); }

Db::Db(DbConfig config, std::shared_ptr<FileState> file)
    : config_(std::move(config)), file_(std::move(file)) {}

Db::~Db() {
  stmts_.clear();  // statements before the connection
  db_.reset();
}

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const DbConfig& config) {
  return Open(config, [](Db& db) { return EnsureSchema(db); });
}

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const DbConfig& config, const Schema& schema) {
  std::unique_ptr<Db> db(new Db(config, FileStateFor(config.path)));
  if (auto s = db->Connect(); !s.ok()) return s;
  if (auto s = db->Configure(schema); !s.ok()) return s;
  db->AttachCheckpointer(*db->file_);
  db->use_writer_ = true;
  {
    // The writer opens now, with the path as this Db just opened it (not later,
    // after a chdir or an unlink could make the same string another file).
    std::lock_guard<std::mutex> lock(db->file_->write_mu);
    (void)db->file_->Writer(config);
  }
  return db;
}

absl::StatusOr<std::unique_ptr<Db>> Db::OpenWriter(const DbConfig& config, FileState& file) {
  std::unique_ptr<Db> db(new Db(config, nullptr));
  if (auto s = db->Connect(); !s.ok()) return s;
  if (auto s = db->ConfigureConnection(); !s.ok()) return s;
  db->AttachCheckpointer(file);
  return db;
}

absl::Status Db::Connect() {
  sqlite3* raw = nullptr;
  // NOMUTEX: each Db is used by one thread at a time, guarded by its owner (a
  // FileState's writer: by the file's write mutex).
  const int rc =
      sqlite3_open_v2(config_.path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) return Error(rc, "cannot open the database file");
  if (sqlite3_db_readonly(raw, "main") == 1) return Error(SQLITE_READONLY, "opened read-only");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_handler(raw, &Db::BusyHandler, this);
  return absl::OkStatus();
}

void Db::AttachCheckpointer(FileState& file) {
  std::lock_guard<std::mutex> lock(file.checkpointer_mu);
  if (file.checkpointer == nullptr) {
    // Started once the file has its schema and is in WAL mode (Configure).
    auto c = WalCheckpointer::Start(config_.path, config_.synchronous_full);
    if (!c.ok()) return;  // this connection keeps SQLite's own checkpoints
    file.checkpointer = *std::move(c);
  }
  file.checkpointer->Attach(db_.get());
}

absl::Status Db::Configure(const Schema& schema) {
  // The schema is the first read of the file: a file that is not a SQLite database
  // fails here with SQLITE_NOTADB.
  if (auto s = schema(*this); !s.ok()) return s;
  // WAL is persistent in the file: set once by whoever opens it first. The switch
  // needs the file to itself, and while other processes open the same new file SQLite
  // refuses it with SQLITE_BUSY at once, without the busy handler (they hold shared
  // locks; waiting could deadlock). So look again and retry until busy_timeout: one
  // of the openers switches it, the others then find it switched.
  const absl::Time deadline = absl::Now() + config_.busy_timeout;
  for (absl::Duration pause = absl::Milliseconds(1);;
       pause = std::min(2 * pause, absl::Milliseconds(50))) {
    int rc;
    {
      auto mode = Prepare("PRAGMA journal_mode");
      if (!mode.ok()) return mode.status();
      StmtScope q(*mode);
      rc = q->Step();
      if (rc == SQLITE_ROW && q->Text(0) == "wal") break;
    }
    if (rc == SQLITE_ROW) {
      std::lock_guard<std::mutex> lock(file_->write_mu);
      auto set = Prepare("PRAGMA journal_mode=WAL");
      if (!set.ok()) return set.status();
      StmtScope q(*set);
      rc = q->Step();
      // A row is the mode now in force: "wal", or the one SQLite kept where WAL cannot
      // be used (it then answers with the old mode, not an error), as before.
      if (rc == SQLITE_ROW) break;
    }
    if ((rc & 0xff) != SQLITE_BUSY || absl::Now() + pause > deadline) {
      return Error(rc, "switching the file to WAL journal mode");
    }
    absl::SleepFor(pause);
  }
  return ConfigureConnection();
}

absl::Status Db::ConfigureConnection() {
  // mmap_size: pages of the database file are read through a shared mapping rather than
  // pread into each connection's own cache. A process has several connections on one
  // file (publisher, fetcher, admin); each commit by one empties the others' caches, so
  // without the mapping every statement re-read its pages with a syscall and a copy
  // (measured: 21k preads, 84 MB, for 10,000 images through the pipeline). The WAL is
  // still read with pread; only the file's mapping is shared.
  return Exec(config_.synchronous_full ? "PRAGMA synchronous=FULL; PRAGMA cache_size=-8192; "
                                         "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=268435456"
                                       : "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-8192; "
                                         "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=268435456");
}

int Db::BusyHandler(void* p, int count) {
  auto* self = static_cast<Db*>(p);
  const absl::Time now = absl::Now();
  if (count == 0) self->busy_since_ = now;
  if (now - self->busy_since_ >= self->config_.busy_timeout) return 0;  // give up: SQLITE_BUSY
  // Another process holds the write lock, usually for one batch (about a millisecond):
  // poll briefly at first, then back off. SQLite's default handler sleeps whole
  // milliseconds from the start, which halves throughput when two processes share.
  absl::SleepFor(count < 20    ? absl::Microseconds(50)
                 : count < 200 ? absl::Microseconds(250)
                               : absl::Milliseconds(2));
  return 1;
}

absl::StatusOr<Stmt*> Db::Prepare(const char* sql) {
  auto& stmts = active_->stmts_;  // errors below are this Db's (its URL), on active_'s message
  auto it = stmts.find(sql);
  if (it != stmts.end()) return it->second.get();
  sqlite3_stmt* s = nullptr;
  const int rc = sqlite3_prepare_v3(handle(), sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc != SQLITE_OK) return Error(rc, absl::StrCat("preparing '", sql, "'"));
  auto stmt = std::make_unique<Stmt>(s);
  Stmt* raw = stmt.get();
  stmts.emplace(sql, std::move(stmt));
  return raw;
}

absl::Status Db::Exec(const char* sql) {
  const int rc = sqlite3_exec(handle(), sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, absl::StrCat("running '", sql, "'"));
  return absl::OkStatus();
}

namespace {

// Runs a write body; an exception from it (std::bad_alloc, say) becomes its error, so
// that the transaction is rolled back rather than left open on the writer connection
// (every later write of the process on the file would then fail).
absl::Status RunBody(absl::FunctionRef<absl::Status()> body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("a write threw: ", e.what()));
  } catch (...) {
    return absl::InternalError("a write threw an exception");
  }
}

}  // namespace

absl::Status Db::Write(absl::FunctionRef<absl::Status()> body) {
  std::lock_guard<std::mutex> lock(file_->write_mu);
  UseWriter();
  absl::Cleanup restore = [this] { active_ = this; };
  auto begin = Prepare("BEGIN IMMEDIATE");
  if (!begin.ok()) return begin.status();
  {
    StmtScope b(*begin);
    const int rc = b->Step();
    if (rc != SQLITE_DONE) return Error(rc, "starting a write transaction");
  }
  absl::Status s = RunBody(body);
  if (s.ok()) {
    auto commit = Prepare("COMMIT");
    if (!commit.ok()) {
      s = commit.status();
    } else {
      StmtScope c(*commit);
      const int rc = c->Step();
      if (rc != SQLITE_DONE) s = Error(rc, "committing a write transaction");
    }
  }
  if (!s.ok() && sqlite3_get_autocommit(handle()) == 0) {
    // Nothing of a failed transaction stays: no partial batch, no half-leased fetch.
    sqlite3_exec(handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  return s;
}

void Db::UseWriter() {
  if (!use_writer_) return;
  if (Db* writer = file_->Writer(config_); writer != nullptr) {
    writer->config_.busy_timeout = config_.busy_timeout;  // this user's limit
    active_ = writer;
  }
}

absl::Status Db::Read(absl::FunctionRef<absl::Status()> body) {
  std::unique_lock<std::mutex> lock(file_->write_mu, std::try_to_lock);
  if (lock.owns_lock()) UseWriter();
  absl::Cleanup restore = [this] { active_ = this; };
  return body();
}

absl::StatusOr<std::int64_t> Db::DataVersion() {
  std::int64_t version = 0;
  absl::Status st = Read([&]() -> absl::Status {
    auto q = Prepare("PRAGMA data_version");
    if (!q.ok()) return q.status();
    StmtScope s(*q);
    const int rc = s->Step();
    if (rc != SQLITE_ROW) return Error(rc, "reading data_version");
    version = s->Int(0);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return version;
}

absl::Status Db::Error(int rc, std::string_view what) const {
  sqlite3* conn = active_->db_.get();
  const std::string detail = conn ? sqlite3_errmsg(conn) : sqlite3_errstr(rc);
  const std::string head = absl::StrCat(config_.url, ": ", std::string(what), " (", detail, ")");
  const std::string& path = config_.path;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(absl::StrCat(
          head, ": database ", path,
          " is locked; another process has held a lock on it for longer than ", "busy_timeout_ms=",
          absl::ToInt64Milliseconds(config_.busy_timeout), "; retry, find the process (fuser ",
          path, "), or raise the limit with ?busy_timeout_ms="));
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return absl::PermissionDeniedError(
          absl::StrCat(head, ": unibus needs write access to ", path,
                       " and to its directory (for the -wal and -shm files); ",
                       "fix the permissions (chmod/chown), or copy the file somewhere writable"));
    case SQLITE_CANTOPEN: {
      const int err = conn ? sqlite3_system_errno(conn) : 0;
      if (err == EACCES || err == EPERM || err == EROFS) {
        return absl::PermissionDeniedError(absl::StrCat(
            head, ": permission denied opening ", path,
            " or creating its -wal/-shm files; unibus needs write ",
            "access to the file and its directory; fix the permissions or pick another path"));
      }
      return absl::FailedPreconditionError(
          absl::StrCat(head, ": cannot open ", path,
                       "; does its directory exist and is the path a regular file? ",
                       "create the directory or pick another path"));
    }
    case SQLITE_NOTADB:
      return absl::FailedPreconditionError(
          absl::StrCat(head, ": ", path, " is not a SQLite database, so not a unibus database; ",
                       "point the URL at a unibus database or at a path that does not exist yet"));
    case SQLITE_CORRUPT:
      return absl::DataLossError(
          absl::StrCat(head, ": the database file ", path,
                       " is corrupt; restore it from a backup, or salvage what is ",
                       "readable with `sqlite3 ", path, " .recover`"));
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(absl::StrCat(
          head, ": the disk holding ", path, " is full; free space or lower topic retention"));
    case SQLITE_TOOBIG:
      return absl::InvalidArgumentError(
          absl::StrCat(head, ": a value is larger than SQLite allows"));
    case SQLITE_IOERR:
      return absl::UnavailableError(absl::StrCat(
          head, ": I/O error on ", path, "; check the disk and the file system, then retry"));
    default:
      return absl::InternalError(head);
  }
}

}  // namespace unibus::sqlite_internal
