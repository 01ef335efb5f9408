// WAL checkpoints on a background thread instead of inside a writer's commit.
#ifndef UNIBUS_SQLITE_CHECKPOINTER_H_
#define UNIBUS_SQLITE_CHECKPOINTER_H_

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "core/c_handle.h"

namespace unibus::sqlite_internal {

// SQLite's own automatic checkpoint runs inside the commit that takes the WAL past
// 1000 pages: it copies the WAL back into the database and fsyncs both files (5-35 ms
// measured on a shared disk), while the committing thread still holds this process's
// write mutex, so every publish, lease and ack of the file waits behind it. A
// WalCheckpointer takes that work to its own thread and connection: connections
// attached to it wake it instead of checkpointing, and it runs PASSIVE checkpoints
// (which never block readers or writers) with the same synchronous setting, so what
// reaches the disk, and when it is synced, is what SQLite's default would do.
//
// A checkpoint is asked for each time `wal_pages` more frames were committed, as
// SQLite's own would run. Under a steady stream of commits a background checkpoint
// rarely catches up with the last frame, and the WAL only restarts from its beginning
// after one that did: so once the WAL reaches kInlineFactor times the limit, the
// committing connection checkpoints itself as SQLite would (then little is left to
// copy, but it syncs). That bounds the WAL, and makes such a stall kInlineFactor
// times rarer than SQLite's default. Near that limit the thread checkpoints
// continuously, and after each checkpoint that left frames behind it syncs the
// database itself, so that the committer's checkpoint has little to copy and flush.
class WalCheckpointer {
 public:
  static constexpr int kDefaultWalPages = 1000;  // SQLite's wal_autocheckpoint default
  static constexpr int kInlineFactor = 16;

  // Opens a connection of its own to `path` (which must exist or be creatable) and
  // starts the thread. `synchronous_full` is the writers' setting (NORMAL otherwise).
  static absl::StatusOr<std::unique_ptr<WalCheckpointer>> Start(const std::string& path,
                                                                bool synchronous_full,
                                                                int wal_pages = kDefaultWalPages);

  // Stops the thread (after a checkpoint under way) and closes the connection, which,
  // if it is the file's last one in any process, checkpoints and removes the WAL.
  ~WalCheckpointer();

  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // From now on `db` (a connection to the same file) leaves its checkpoints to this
  // object; replaces any wal hook or wal_autocheckpoint on it. This object must
  // outlive `db`. Thread-safe.
  void Attach(sqlite3* db);

  // Checkpoints run on the thread so far. Thread-safe.
  std::int64_t checkpoints() const { return checkpoints_.load(); }
  // Times an attached connection's commit found the WAL restarted from its beginning
  // (every frame of it had been checkpointed). Thread-safe.
  std::int64_t restarts() const { return restarts_.load(); }

 private:
  WalCheckpointer(sqlite3* db, int wal_pages, int sync_flags);
  // Flushes what checkpoints copied into the database file to the disk.
  void SyncDatabaseFile();
  static int OnCommit(void* self, sqlite3* db, const char* schema, int wal_pages);
  void Loop();

  const core_internal::CHandle<sqlite3, sqlite3_close_v2> db_;  // used by the thread only
  const int wal_pages_;
  const int sync_flags_;  // SQLITE_SYNC_NORMAL or SQLITE_SYNC_FULL, as the writers
  std::atomic<std::int64_t> checkpoints_{0};
  std::atomic<std::int64_t> restarts_{0};
  std::atomic<int> last_pages_{0};  // the WAL's frames after the last attached commit
  // WAL frames already copied into the database by the last checkpoint: a checkpoint
  // is due when wal_pages more were committed (or the WAL restarted and reached it).
  std::atomic<int> backfilled_{0};
  // The WAL passed the inline limit: committers checkpoint it themselves until it
  // restarts, and the thread keeps out of their way (its checkpoint would make theirs
  // busy, and its read lock would keep the WAL from restarting).
  std::atomic<bool> writers_turn_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  bool wanted_ = false;  // guarded by mu_: a commit found the WAL at the limit
  bool stop_ = false;    // guarded by mu_
  std::thread thread_;
};

}  // namespace unibus::sqlite_internal

#endif  // UNIBUS_SQLITE_CHECKPOINTER_H_
