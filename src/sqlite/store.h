// What every connection to one database file in this process shares.
#ifndef UNIBUS_SQLITE_STORE_H_
#define UNIBUS_SQLITE_STORE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "sqlite/checkpointer.h"

namespace unibus::sqlite_internal {

class Db;
struct DbConfig;

// Per file, per process. Writers take `write_mu` around their transaction so that
// connections of one process queue here (cheaply) instead of in SQLite's busy loop;
// SQLite's file lock then only arbitrates between processes.
struct FileState {
  std::mutex write_mu;

  // Bumped after each commit that may let a waiting Fetch make progress (a publish,
  // a release); waiters in this process sleep on `cv`. Other processes are noticed
  // through PRAGMA data_version polling.
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<std::uint64_t> commits{0};

  // When the next retention pass is due (wall clock, microseconds).
  std::atomic<std::int64_t> next_retention_us{0};

  // Runs the file's WAL checkpoints for every connection of this process, off their
  // commits; started by the first Db::Open. Null if it could not start (the
  // connections then keep SQLite's automatic checkpoint). Destroyed after the
  // writers (declared before them) and after the last Db closed its connection, so
  // that its connection is the process's last one to the file.
  std::mutex checkpointer_mu;
  std::unique_ptr<WalCheckpointer> checkpointer;  // guarded by checkpointer_mu

  // The connection this process's write transactions on the file run on (see Db),
  // opened by the first Db::Open with `config`'s settings; one per synchronous
  // setting, as that is per connection. Null if it could not be opened (tried
  // once; Db::Write then uses the caller's own connection). Call with write_mu
  // held.
  Db* Writer(const DbConfig& config);

  FileState();
  ~FileState();

  void NotifyCommit() {
    {
      std::lock_guard<std::mutex> lock(mu);
      commits.fetch_add(1, std::memory_order_relaxed);
    }
    cv.notify_all();
  }

 private:
  std::unique_ptr<Db> writers_[2];          // [synchronous_full]; guarded by write_mu
  bool writer_failed_[2] = {false, false};  // guarded by write_mu
};

// The FileState of `path` (made absolute and normalized), shared by all its users
// in this process while any holds it. Thread-safe.
std::shared_ptr<FileState> FileStateFor(const std::string& path);

}  // namespace unibus::sqlite_internal

#endif  // UNIBUS_SQLITE_STORE_H_
