#include "sqlite/checkpointer.h"

#include "absl/strings/str_cat.h"
#include "core/thread_name.h"

namespace unibus::sqlite_internal {

absl::StatusOr<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Start(const std::string& path,
                                                                        bool synchronous_full,
                                                                        int wal_pages) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  core_internal::CHandle<sqlite3, sqlite3_close_v2> db(raw);
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(absl::StrCat("cannot open ", path, " for checkpoints: ",
                                               raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  // The checkpointing connection's setting decides whether a checkpoint syncs the
  // WAL and the database: the same as the writers'.
  const char* sync = synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
  if (sqlite3_exec(db.get(), sync, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return absl::UnavailableError(
        absl::StrCat("cannot configure ", path, " for checkpoints: ", sqlite3_errmsg(db.get())));
  }
  sqlite3_wal_autocheckpoint(db.get(), 0);  // it checkpoints when asked, never on its own commits
  return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(
      db.release(), wal_pages, synchronous_full ? SQLITE_SYNC_FULL : SQLITE_SYNC_NORMAL));
}

WalCheckpointer::WalCheckpointer(sqlite3* db, int wal_pages, int sync_flags)
    : db_(db), wal_pages_(wal_pages), sync_flags_(sync_flags) {
  thread_ = std::thread([this] {
    core_internal::NameThisThread("ub-checkpoint");
    Loop();
  });
}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void WalCheckpointer::Attach(sqlite3* db) {
  sqlite3_wal_hook(db, &WalCheckpointer::OnCommit, this);
}

int WalCheckpointer::OnCommit(void* p, sqlite3* db, const char* schema, int pages) {
  auto* self = static_cast<WalCheckpointer*>(p);
  if (self->last_pages_.exchange(pages) > pages) ++self->restarts_;
  if (pages < self->wal_pages_) self->writers_turn_.store(false);  // the WAL restarted
  if (pages >= self->wal_pages_ * kInlineFactor) {
    // Far behind: do what SQLite's own hook does, on this connection (this process's
    // other writers wait on the write mutex meanwhile, so this one can finish).
    self->writers_turn_.store(true);
    int log = 0, copied = 0;
    if (sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) ==
        SQLITE_OK) {
      self->backfilled_.store(copied);
    }
    return SQLITE_OK;
  }
  if (self->writers_turn_.load()) return SQLITE_OK;
  int done = self->backfilled_.load();
  if (pages < done) done = 0;  // the WAL restarted since
  // Near the inline limit the thread checkpoints whatever is new, back to back, so
  // that the committer's checkpoint at the limit copies and syncs only the last few
  // milliseconds of commits (measured: 40-55 ms at 3,500 images/s when up to
  // wal_pages frames were left to it).
  const bool near_limit = pages >= self->wal_pages_ * (kInlineFactor - 2);
  if (pages - done < (near_limit ? 1 : self->wal_pages_)) return SQLITE_OK;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    if (self->wanted_) return SQLITE_OK;
    self->wanted_ = true;
  }
  self->cv_.notify_one();
  return SQLITE_OK;
}

void WalCheckpointer::SyncDatabaseFile() {
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db_.get(), "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
      file == nullptr || file->pMethods == nullptr) {
    return;
  }
  file->pMethods->xSync(file, sync_flags_);
}

void WalCheckpointer::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || wanted_; });
    if (stop_) return;
    wanted_ = false;
    if (writers_turn_.load()) continue;
    lock.unlock();
    // PASSIVE: copies what no reader still needs, waits for nobody. SQLITE_BUSY means
    // another process is checkpointing the file right now; the next commit past the
    // limit asks again.
    int log = 0, copied = 0;
    if (sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) ==
        SQLITE_OK) {
      backfilled_.store(copied);
      // SQLite syncs the database only after a checkpoint that copied the whole WAL,
      // which in a stream of commits is the committer's one at the inline limit: it
      // would then flush every page the thread copied since the last restart. Flush
      // them here, off the commit path, so that the committer's sync stays short.
      if (copied > 0 && copied < log) SyncDatabaseFile();
    }
    ++checkpoints_;
    lock.lock();
  }
}

}  // namespace unibus::sqlite_internal
