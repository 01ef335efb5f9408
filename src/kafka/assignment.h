// The assignment of a kafka:// consumer as the threads of its source (kafka/source.cc)
// share it: the AssignmentLedger, the messages polled but not fetched yet (the
// stash), and the revoke that waits for handlers to settle what they hold. No
// librdkafka: the source polls, commits and seeks, and tells this class what
// happened.
#ifndef UNIBUS_KAFKA_ASSIGNMENT_H_
#define UNIBUS_KAFKA_ASSIGNMENT_H_

#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/mutex.h"
#include "core/source.h"
#include "kafka/assignment_ledger.h"

namespace unibus::kafka_internal {

// Thread-safe. Takes none of the dispatcher's locks itself; Revoke calls the
// dispatcher's Withdrawer without holding its own.
class Assignment {
 public:
  // Where a polled message came from, and its size (Message::ByteSize).
  struct Position {
    std::int32_t partition;
    std::int64_t offset;
    std::size_t bytes;
  };
  // A partition newly assigned: what the group committed (-1: none or unknown)
  // and the acks recorded above it.
  struct Committed {
    std::int32_t partition;
    std::int64_t offset = -1;
    std::set<std::int64_t> acked;
  };
  struct Assigned {
    // Per partition, in the order given: where to start reading (-1: the group's
    // default, auto.offset.reset).
    std::vector<std::int64_t> starts;
    // Log lines: partitions that came back before their commit was confirmed.
    std::vector<std::string> notes;
  };
  struct Revoked {
    // To commit (synchronously) before the partitions go; then Confirmed() each.
    std::vector<AssignmentLedger::Commit> commits;
    // Messages still in handlers when the wait ended: delivered again elsewhere. 0
    // when it was interrupted (the subscriber is stopping).
    std::size_t unsettled = 0;
    // What the wait did ("waited 2ms for 3 message(s) in handlers, took back 5
    // queued"); empty when it did not wait.
    std::string waited;
  };

  // Converted messages `batch[first..]`, polled from `positions` (one each, in
  // order), get their ack tokens. Those the ledger hands out stay in `batch` (up to
  // about `max_bytes`, and only if `keep` and nothing is stashed before them, so a
  // partition's order holds); the others the ledger wants go to the stash for the
  // next TakeStash; the rest (revoked since, or a re-read after a seek) are dropped.
  void Admit(std::vector<core_internal::Delivery>& batch, std::size_t first,
             const std::vector<Position>& positions, std::size_t max_bytes, bool keep);
  // Moves stashed messages to `out` (at most `max_messages`, about `max_bytes`);
  // true if there were any.
  bool TakeStash(std::size_t max_messages, std::size_t max_bytes,
                 std::vector<core_internal::Delivery>* out);

  void Ack(const std::vector<std::string>& tokens);
  void Release(const std::vector<std::string>& tokens);

  // A revoke waiting for handlers stops waiting; later revokes do not wait.
  void Interrupt();
  // The dispatcher's, to take back what no handler has started (SubscriptionSource).
  void SetWithdrawer(const core_internal::SubscriptionSource::Withdrawer& withdraw);

  // Starts each partition after what is settled (AssignmentLedger::Assign).
  Assigned Assign(std::vector<Committed> committed, const std::string& topic,
                  const std::string& subscription);
  // Gives `partitions` back. Stashed messages of them are dropped. Unless
  // `wait_for_handlers` is false (the partitions are lost: another member may own
  // them; or the consumer is leaving), it first takes back from the dispatcher what
  // no handler has started, then waits up to `wait` for the messages in handlers to
  // settle (their acks count), taking back again after each settle: a key's next
  // message becomes ready when the one before it settles. Then stops delivering
  // them: tokens still in flight go stale.
  Revoked Revoke(const std::vector<std::int32_t>& partitions, bool lost, bool wait_for_handlers,
                 absl::Duration wait);

  std::vector<AssignmentLedger::Seek> TakeSeeks();
  std::vector<AssignmentLedger::Commit> TakeCommits(bool all);
  void CommitFailed(std::int32_t partition);
  void Confirmed(std::int32_t partition);

  // Records whether the whole assignment is paused (the source pauses partitions
  // assigned while it is); true if that changed. The source changes it only while
  // it holds its poll lock, where librdkafka also calls its rebalance callback, so
  // paused() there is what librdkafka was last told.
  bool SetPaused(bool pause);
  bool paused();
  // A terminal consume error, for Fetch to return (the latest one).
  void SetError(absl::Status error);
  absl::Status error();

 private:
  struct Buffered {
    core_internal::Delivery delivery;
    std::int32_t partition;
    std::int64_t offset;
    std::size_t bytes;
  };

  core_internal::Mutex mu_;
  core_internal::CondVar settled_cv_;                // an ack or release while revoking_
  bool revoking_ ABSL_GUARDED_BY(mu_) = false;       // Revoke waits for in-flight messages
  bool interrupted_ ABSL_GUARDED_BY(mu_) = false;    // Interrupt()
  std::deque<Buffered> stash_ ABSL_GUARDED_BY(mu_);  // polled, not yet fetched
  core_internal::SubscriptionSource::Withdrawer withdraw_ ABSL_GUARDED_BY(mu_);
  AssignmentLedger ledger_ ABSL_GUARDED_BY(mu_);
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace unibus::kafka_internal

#endif  // UNIBUS_KAFKA_ASSIGNMENT_H_
