// A SQLite connection for the sqlite:// backend: owned handles, cached prepared
// statements, write transactions that are serialized in-process and retried across
// processes, and SQLite result codes translated to absl::Status at this boundary.
#ifndef UNIBUS_SQLITE_DB_H_
#define UNIBUS_SQLITE_DB_H_

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/c_handle.h"

namespace unibus::sqlite_internal {

struct FileState;

using DbHandle = core_internal::CHandle<sqlite3, sqlite3_close_v2>;
using StmtHandle = core_internal::CHandle<sqlite3_stmt, sqlite3_finalize>;

// How a file is opened; parsed from the URL's query (see sqlite_broker.cc).
struct DbConfig {
  std::string path;  // as the user wrote it, for messages
  std::string url;   // sqlite://PATH, for messages
  absl::Duration busy_timeout = absl::Seconds(5);
  bool synchronous_full = false;  // default NORMAL: durable across process crashes,
                                  // a power loss may drop the last transactions
  absl::Duration retention_check = absl::Seconds(10);
};

// A prepared statement, reset and unbound before each use. Not thread-safe.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  sqlite3_stmt* get() const { return s_.get(); }
  void Bind(int i, std::int64_t v) { sqlite3_bind_int64(s_.get(), i, v); }
  void BindDouble(int i, double v) { sqlite3_bind_double(s_.get(), i, v); }
  void BindNull(int i) { sqlite3_bind_null(s_.get(), i); }
  void BindText(int i, std::string_view v) {
    sqlite3_bind_text(s_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  // Binds NULL for an empty string.
  void BindTextOrNull(int i, std::string_view v) {
    if (v.empty())
      sqlite3_bind_null(s_.get(), i);
    else
      BindText(i, v);
  }
  void BindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(s_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void BindBlobOrNull(int i, std::string_view v) {
    if (v.empty())
      sqlite3_bind_null(s_.get(), i);
    else
      BindBlob(i, v);
  }
  int Step() { return sqlite3_step(s_.get()); }
  std::int64_t Int(int col) const { return sqlite3_column_int64(s_.get(), col); }
  double Double(int col) const { return sqlite3_column_double(s_.get(), col); }
  std::string_view Text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_.get(), col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(s_.get(), col)))
             : std::string_view();
  }
  std::string_view Blob(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s_.get(), col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(s_.get(), col)))
             : std::string_view();
  }

 private:
  StmtHandle s_;
};

// Resets a statement (and drops its bindings) when leaving a scope.
class StmtScope {
 public:
  explicit StmtScope(Stmt* s) : s_(s) {}
  ~StmtScope() {
    sqlite3_reset(s_->get());
    sqlite3_clear_bindings(s_->get());
  }
  Stmt* operator->() const { return s_; }
  Stmt& operator*() const { return *s_; }

 private:
  Stmt* s_;
};

// One connection to one file. Not thread-safe: each user (a publisher's sink, a
// subscription source, the admin) owns one and guards it itself.
//
// Write transactions do not run on that connection but on the file's one writer
// connection in this process (FileState::Writer), under the file's write mutex:
// inside Write's body, Prepare, Exec, handle and Error are the writer's. SQLite
// empties a connection's page cache at the start of each transaction if any other
// connection committed since its last one, so with a connection per publisher and
// per subscriber every write re-read its b-tree pages; the writer is the only
// in-process committer, so its cache stays warm. Read runs frequent small reads
// there too when the write mutex is free; other reads stay on the Db's own
// connection (they need no mutex and may run beside a write). Lock order: the
// owner's mutex, then FileState::write_mu, then the checkpointer's.
class Db {
 public:
  // Opens (creating if missing) `config.path`, sets WAL mode and the busy handler,
  // and checks the schema stamp: creates the schema in a new file, refuses a file
  // that is not a unibus database or was made by a newer unibus (FailedPrecondition).
  static absl::StatusOr<std::unique_ptr<Db>> Open(const DbConfig& config);

  // Creates or checks the tables of a database that is not a broker's.
  using Schema = std::function<absl::Status(Db& db)>;
  // Opens `config.path` as Open does (WAL, busy handler, checkpoints, errors), for a
  // database other than a broker's: `schema` creates or checks its tables instead
  // of the broker's schema stamp.
  static absl::StatusOr<std::unique_ptr<Db>> Open(const DbConfig& config, const Schema& schema);

  ~Db();

  const DbConfig& config() const { return config_; }
  // The connection statements run on: the writer's inside Write's body, else this
  // Db's own.
  sqlite3* handle() const { return active_->db_.get(); }
  FileState& file() const { return *file_; }

  // The cached statement for `sql` (prepared on first use) on handle()'s
  // connection. The pointer stays valid while this Db lives; one prepared inside
  // Write's body is for use inside that body only. `sql` must have static storage
  // duration (a literal): the cache is keyed by its address, and the writer's
  // cache is shared by every Db of the file.
  absl::StatusOr<Stmt*> Prepare(const char* sql);

  // Runs `sql` (one or more statements, no results).
  absl::Status Exec(const char* sql);

  // Runs `body` in BEGIN IMMEDIATE ... COMMIT, holding this file's in-process write
  // mutex so writers in one process never contend inside SQLite; another process's
  // lock is waited for up to busy_timeout. Rolls back when `body` fails, so nothing
  // is half-written. Blocks. Runs on the file's writer connection (see the class
  // comment), or on this Db's own if the writer could not be opened. An exception
  // from `body` is rolled back and returned as an Internal error.
  absl::Status Write(absl::FunctionRef<absl::Status()> body);

  // The connection a FileState keeps for this process's write transactions on its
  // file (see the class comment): opened and configured as Open does for a file
  // whose schema an earlier Open checked, attached to `file`'s checkpointer, but not
  // holding `file` (which owns it). Its own Write must not be called.
  static absl::StatusOr<std::unique_ptr<Db>> OpenWriter(const DbConfig& config, FileState& file);

  // Runs `body` (reads only, each statement its own transaction) on the file's
  // writer connection, on its warm cache, if the write mutex is free right now;
  // else on this Db's own connection, so that a read never waits behind a write
  // (which may itself wait up to busy_timeout for another process). Must not be
  // called inside Write's body.
  absl::Status Read(absl::FunctionRef<absl::Status()> body);

  // PRAGMA data_version, read as Read does: changes whenever another process (on
  // the writer) or another connection (on this Db's own) commits. Compare only for
  // change: the two connections count differently, so a switch between them looks
  // like a change (one extra look, never a missed commit). This process's commits
  // are also signalled by FileState.
  absl::StatusOr<std::int64_t> DataVersion();

  // `rc` (a SQLite result code) as a Status that says which file, what was being
  // done, and what to do about it.
  absl::Status Error(int rc, std::string_view what) const;

 private:
  Db(DbConfig config, std::shared_ptr<FileState> file);
  // Makes the file's writer the connection statements run on (under write_mu), if
  // it can be opened; undone by the returned cleanup's caller resetting active_.
  void UseWriter();
  // Opens the connection (busy handler, extended result codes), writable.
  absl::Status Connect();
  absl::Status Configure(const Schema& schema);
  // The per-connection settings (synchronous, cache, mmap).
  absl::Status ConfigureConnection();
  // Leaves this connection's WAL checkpoints to `file`'s WalCheckpointer.
  void AttachCheckpointer(FileState& file);
  static int BusyHandler(void* self, int count);

  DbConfig config_;
  std::shared_ptr<FileState> file_;  // null for a FileState's writer
  DbHandle db_;
  Db* active_ = this;        // the writer inside Write's body, else this
  bool use_writer_ = false;  // set once Open has checked the schema
  std::unordered_map<const char*, std::unique_ptr<Stmt>> stmts_;
  absl::Time busy_since_ = absl::InfinitePast();
};

// Wall-clock time in microseconds / milliseconds since the epoch: leases and
// retention are compared across processes, so they use the shared wall clock.
std::int64_t NowMicros();
inline std::int64_t NowMillis() { return NowMicros() / 1000; }

}  // namespace unibus::sqlite_internal

#endif  // UNIBUS_SQLITE_DB_H_
