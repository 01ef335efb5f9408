// Which offsets of one Kafka partition may be committed.
#ifndef UNIBUS_KAFKA_OFFSET_TRACKER_H_
#define UNIBUS_KAFKA_OFFSET_TRACKER_H_

#include <cstdint>
#include <deque>
#include <set>
#include <string>

namespace unibus::kafka_internal {

// Tracks the messages of one partition handed out by a consumer, so that the
// committed offset only ever advances over a contiguous prefix of settled messages:
// an ack of offset 10 never commits past an unsettled offset 7 (DESIGN.md 3.2).
//
// Offsets arrive from Kafka in increasing order; an offset never seen between two
// delivered ones does not exist (compaction, transaction markers), so it does not
// hold the commit back. Acks above the commit position are remembered and written
// to the commit's metadata (EncodeAcked), so a consumer taking the partition over
// skips them instead of redelivering them.
//
// Not thread-safe: the owner serialises calls.
class OffsetTracker {
 public:
  // `committed`: the group's committed offset (the next offset to consume), or -1
  // when there is none (the first delivered offset then starts the prefix).
  // `acked`: offsets at or above `committed` already settled (from DecodeAcked).
  explicit OffsetTracker(std::int64_t committed = -1, std::set<std::int64_t> acked = {});

  // A message at `offset` was fetched. Returns true when it must be handed out:
  // it is new, or was released. Returns false for one already settled or still
  // in flight (a re-read after a seek).
  bool Deliver(std::int64_t offset);

  // The message at `offset` was handled. Unknown offsets are ignored.
  void Ack(std::int64_t offset);

  // The message at `offset` goes back: it stays uncommitted and the next Deliver of
  // it returns true. Returns true when it was in flight.
  bool Release(std::int64_t offset);

  // Every message in flight goes back (as Release does for one): for a partition
  // assigned again after a revoke, whose in-flight tokens went stale.
  void ReleaseAll();

  // The offset to commit: the lowest unsettled offset, or one past the highest
  // seen when everything is settled. -1 when nothing is known yet.
  std::int64_t committable() const;

  // Offsets above committable() already acked, as commit metadata:
  // "unibus1:" + ranges relative to committable(), e.g. "unibus1:1-6,9". Empty when
  // there are none. Truncated (dropping the highest ranges, which are then
  // redelivered rather than lost) to stay under `max_bytes`.
  std::string EncodeAcked(std::size_t max_bytes = 4000) const;

  // Parses EncodeAcked's output for a commit at `committed`. Anything else
  // (another client's metadata) yields an empty set.
  static std::set<std::int64_t> DecodeAcked(const std::string& metadata, std::int64_t committed);

  std::size_t in_flight() const { return in_flight_; }
  std::size_t unsettled() const { return unsettled_; }

 private:
  enum class State : std::uint8_t { kInFlight, kReleased, kAcked };
  struct Entry {
    std::int64_t offset;
    State state;
  };
  // The entry of `offset`, or nullptr. Offsets in window_ increase, so this is a
  // binary search (and the common case, an ack near the front, is short).
  Entry* Find(std::int64_t offset);
  void Prune();

  std::int64_t base_;  // committed position; -1 = unknown
  std::int64_t next_;  // one past the highest offset seen; -1 = none
  // Delivered offsets from the lowest unsettled one up, in increasing order; the
  // front is never acked. No allocation per message (unlike a node-based map).
  std::deque<Entry> window_;
  std::set<std::int64_t> prior_acked_;  // acked by an earlier owner (commit metadata)
  std::size_t in_flight_ = 0;
  std::size_t unsettled_ = 0;
};

}  // namespace unibus::kafka_internal

#endif  // UNIBUS_KAFKA_OFFSET_TRACKER_H_
