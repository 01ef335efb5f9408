// A subscription's feed from a sqlite file: leases messages, deletes leases on ack.
#ifndef UNIBUS_SQLITE_SOURCE_H_
#define UNIBUS_SQLITE_SOURCE_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/source.h"
#include "sqlite/db.h"
#include "sqlite/store.h"

namespace unibus::sqlite_internal {

// How often a source looks for expired or released leases of its subscription
// (a scan of the subscription's leases; new messages are looked for every time).
inline constexpr absl::Duration kLeaseScanInterval = absl::Milliseconds(50);
// How often a waiting Fetch polls the file for other processes' commits.
inline constexpr absl::Duration kPollInterval = absl::Milliseconds(2);

// One consumer of `subscription` (on `topic`) over its own connection. Fetch runs
// on one thread, Ack/Release/ExtendLeases on another; a mutex serializes their use
// of the connection, never held while Fetch waits.
class SqliteSource : public core_internal::SubscriptionSource {
 public:
  SqliteSource(std::unique_ptr<Db> db, std::string subscription, std::string topic,
               absl::Duration ack_deadline);

  // Leases up to `max_messages` in one transaction: first messages whose lease
  // expired or was released (attempt + 1), then new ones past the cursor. Waits up
  // to `wait` for one, woken at once by publishes in this process and within
  // kPollInterval by other processes' commits.
  absl::StatusOr<std::vector<core_internal::Delivery>> Fetch(std::size_t max_messages,
                                                             std::size_t max_bytes,
                                                             absl::Duration wait) override;
  // Deletes the leases (one transaction).
  absl::Status Ack(const std::vector<std::string>& tokens) override;
  // Marks the leases expired so any consumer gets them at its next lease scan; the
  // subscription's fetches in this process are woken and scan at once.
  absl::Status Release(const std::vector<std::string>& tokens) override;
  absl::Status ExtendLeases(const std::vector<std::string>& tokens,
                            absl::Duration deadline) override;
  bool needs_lease_extension() const override { return true; }
  void Close() override;

  // Statements run on the leases table by fetches of new messages and by acks, since
  // this source was made (for tests: a batch costs one, an ack of a consecutive run
  // one).
  std::int64_t lease_statements() {
    std::lock_guard<std::mutex> lock(mu_);
    return lease_statements_;
  }

 private:
  absl::StatusOr<std::vector<core_internal::Delivery>> TryFetch(std::size_t max,
                                                                std::size_t max_bytes, bool scan);
  absl::StatusOr<bool> MayHaveWork(bool scan);
  absl::Status LeaseExpired(std::size_t max, std::size_t max_bytes, std::int64_t now_ms,
                            std::size_t* bytes, std::vector<core_internal::Delivery>* out);
  absl::Status LeaseNew(std::size_t max, std::size_t max_bytes, std::int64_t now_ms,
                        std::size_t* bytes, std::vector<core_internal::Delivery>* out);
  // Runs `sql` for each token in one transaction, binding ?1 sub_id, ?2 seq, and
  // where the statement has them ?3 attempts and ?4 `extra`.
  absl::Status ForEachToken(const std::vector<std::string>& tokens, const char* sql,
                            std::int64_t extra, const char* what);
  core_internal::Delivery MakeDelivery(Stmt& row, int first_col, std::int64_t seq,
                                       std::int64_t attempts);

  const std::string subscription_;
  const std::string topic_;
  const std::int64_t ack_deadline_ms_;
  std::atomic<bool> closed_{false};

  std::mutex mu_;
  std::unique_ptr<Db> db_;               // guarded by mu_
  std::int64_t sub_id_ = -1;             // guarded by mu_
  std::int64_t topic_id_ = -1;           // guarded by mu_
  std::int64_t cursor_ = 0;              // guarded by mu_
  std::int64_t lease_statements_ = 0;    // guarded by mu_
  std::int64_t next_seq_ = 0;            // guarded by mu_
  std::int64_t next_lease_scan_ms_ = 0;  // guarded by mu_
  std::int64_t data_version_ = -1;       // guarded by mu_
  // What Fetch waits on: the signal of the topic it last read (topic_id_ then).
  // Written by Fetch under mu_ and the file's mu; read by Fetch, and by Close under
  // the file's mu.
  std::shared_ptr<FileState::TopicSignal> signal_;
  std::int64_t signal_topic_id_ = -1;
  std::uint64_t releases_seen_ = 0;  // the signal's releases at the last look; guarded by mu_
};

}  // namespace unibus::sqlite_internal

#endif  // UNIBUS_SQLITE_SOURCE_H_
