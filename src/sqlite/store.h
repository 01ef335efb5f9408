// What every connection to one database file in this process shares.
#ifndef UNIBUS_SQLITE_STORE_H_
#define UNIBUS_SQLITE_STORE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
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

  // What a waiting Fetch of this process sleeps on, one per topic (by id): a commit
  // that may let a Fetch make progress (a publish, a release) wakes the subscribers of
  // its topic only. (One signal for the whole file woke every subscriber's fetch
  // thread on every publish to any topic: in the image pipeline the predictions
  // sink's on each of the 7,000 image commits a second.) Other processes' commits are
  // noticed through PRAGMA data_version polling.
  struct TopicSignal {
    std::atomic<std::uint64_t> commits{0};   // bumped under FileState::mu
    std::atomic<std::uint64_t> releases{0};  // of those, releases of leases
    std::condition_variable cv;              // waited on with FileState::mu
  };
  std::mutex mu;
  // The signal of `topic_id`, made on first use and shared while any source holds it.
  std::shared_ptr<TopicSignal> SignalFor(std::int64_t topic_id);
  // Wakes the Fetches waiting on `topic_id`'s messages, if any. `released`: the commit
  // released leases, which a Fetch finds only by scanning the leases.
  void NotifyCommit(std::int64_t topic_id, bool released = false);

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

 private:
  std::unique_ptr<Db> writers_[2];          // [synchronous_full]; guarded by write_mu
  bool writer_failed_[2] = {false, false};  // guarded by write_mu
  std::map<std::int64_t, std::weak_ptr<TopicSignal>> signals_;  // guarded by mu
};

// The FileState of `path` (made absolute and normalized), shared by all its users
// in this process while any holds it. Thread-safe.
std::shared_ptr<FileState> FileStateFor(const std::string& path);

}  // namespace unibus::sqlite_internal

#endif  // UNIBUS_SQLITE_STORE_H_
