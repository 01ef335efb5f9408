// The assignment ledger of a kafka:// consumer (kafka/assignment.h): the partitions it
// holds, each with an epoch and an OffsetTracker; what to commit and where to seek
// back; and what it remembers of partitions revoked before their last commit was
// confirmed. No librdkafka and no threads: Assignment calls it under its lock.
#ifndef UNIBUS_KAFKA_ASSIGNMENT_LEDGER_H_
#define UNIBUS_KAFKA_ASSIGNMENT_LEDGER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kafka/offset_tracker.h"

namespace unibus::kafka_internal {

// Not thread-safe: the owner serialises calls.
class AssignmentLedger {
 public:
  // A commit to send: `offset` is the next offset to consume; `metadata` lists the
  // acks above it (OffsetTracker::EncodeAcked), empty when there are none.
  struct Commit {
    std::int32_t partition;
    std::int64_t offset;
    std::string metadata;
  };
  // Read `partition` again from `offset` (a released message).
  struct Seek {
    std::int32_t partition;
    std::int64_t offset;
  };
  struct Assigned {
    // Where to start reading: after what is settled; -1 for the group's default
    // (auto.offset.reset) when nothing is known.
    std::int64_t start = -1;
    // True when the partition came back before the commit of its revoke was
    // confirmed and this consumer's own record (newer than the group's `committed`)
    // was kept: what it acked is not delivered again.
    bool kept_own_record = false;
  };

  // `partition` is assigned to this consumer, whose group committed `committed`
  // (-1: none or unknown) with `acked` above it (decoded commit metadata). Starts a
  // new epoch: tokens of an earlier assignment of it no longer count.
  Assigned Assign(std::int32_t partition, std::int64_t committed, std::set<std::int64_t> acked);

  // `partition` is taken away. Returns the commit of what was settled on it, unless
  // `lost` (another member may own it already) or nothing is known. It is
  // remembered until Confirmed() or its next Assign().
  std::optional<Commit> Revoke(std::int32_t partition, bool lost);
  // The commit Revoke returned for `partition` was confirmed by the broker.
  void Confirmed(std::int32_t partition);

  // Messages of `partition` handed out (Deliver) and neither settled nor released;
  // 0 when it is not assigned. A revoke waits for them (Assignment::Revoke).
  std::size_t InFlight(std::int32_t partition) const;
  // A message Deliver() gave a token for was never handed out (it is dropped with
  // its revoked partition): it no longer counts as in flight and stays uncommitted.
  void Unhand(std::int32_t partition, std::int64_t offset);
  // The same for the messages of `tokens` (stale ones are ignored as in Ack): the
  // dispatcher gave them back before any handler had them.
  void Unhand(const std::vector<std::string>& tokens);
  // The partition a Deliver() token names; nullopt for anything else.
  static std::optional<std::int32_t> PartitionOf(const std::string& token);

  // True while `partition` is assigned.
  bool Holds(std::int32_t partition) const { return parts_.count(partition) != 0; }
  // The partitions assigned, in increasing order.
  std::vector<std::int32_t> partitions() const;

  // A message at `offset` of `partition` was fetched. Returns its ack token when it
  // must be handed out; nullopt when the partition is not assigned (revoked since)
  // or the message is settled or in flight (a re-read after a seek).
  std::optional<std::string> Deliver(std::int32_t partition, std::int64_t offset);
  // Settles the messages of `tokens`; tokens of partitions revoked since they were
  // handed out, and anything that is not a token, are ignored.
  void Ack(const std::vector<std::string>& tokens);
  // Gives the messages of `tokens` back: they stay uncommitted and are read again
  // (see TakeSeeks). Stale tokens are ignored as in Ack.
  void Release(const std::vector<std::string>& tokens);

  // Seeks wanted since the last call (the lowest released offset per partition).
  std::vector<Seek> TakeSeeks();
  // The commits to send: each partition whose position or acks changed since its
  // last commit, or (`all`) every partition with a known position, changed or not
  // (an async commit may have failed unnoticed, so the final ones must not trust
  // the record of what was sent).
  std::vector<Commit> TakeCommits(bool all);
  // A commit of `partition` failed: the next TakeCommits sends it again.
  void CommitFailed(std::int32_t partition);

 private:
  struct Partition {
    std::uint64_t epoch = 0;
    OffsetTracker tracker;
    bool dirty = false;         // acked since the last TakeCommits
    std::int64_t seek_to = -1;  // released offset to read again from
    std::int64_t committed = -2;
    std::string committed_meta;
  };
  template <typename F>
  void ForEachCurrent(const std::vector<std::string>& tokens, F f);
  std::optional<Commit> CommitOf(std::int32_t p, Partition& part, bool force);

  std::map<std::int32_t, Partition> parts_;        // the current assignment
  std::map<std::int32_t, Partition> unconfirmed_;  // revoked, commit not confirmed
  std::uint64_t next_epoch_ = 0;
  bool seeks_pending_ = false;
};

}  // namespace unibus::kafka_internal

#endif  // UNIBUS_KAFKA_ASSIGNMENT_LEDGER_H_
