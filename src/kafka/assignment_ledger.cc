#include "kafka/assignment_ledger.h"

#include <algorithm>
#include <utility>

#include "kafka/record.h"

namespace unibus::kafka_internal {

AssignmentLedger::Assigned AssignmentLedger::Assign(std::int32_t partition, std::int64_t committed,
                                                    std::set<std::int64_t> acked) {
  Assigned result;
  Partition part;
  auto own = unconfirmed_.find(partition);
  const std::int64_t own_position =
      own == unconfirmed_.end() ? -1 : own->second.tracker.committable();
  if (own_position >= 0 && committed <= own_position) {
    part = std::move(own->second);
    part.tracker.ReleaseAll();  // in flight under the old assignment: hand out again
    part.dirty = true;          // commit our position under this assignment
    part.seek_to = -1;
    result.kept_own_record = true;
  } else {
    part.tracker = OffsetTracker(committed, std::move(acked));
  }
  if (own != unconfirmed_.end()) unconfirmed_.erase(own);
  part.epoch = ++next_epoch_;
  part.committed = committed;
  result.start = part.tracker.committable();
  parts_[partition] = std::move(part);
  return result;
}

std::optional<AssignmentLedger::Commit> AssignmentLedger::Revoke(std::int32_t partition,
                                                                 bool lost) {
  auto it = parts_.find(partition);
  if (it == parts_.end()) return std::nullopt;
  std::optional<Commit> commit;
  if (!lost) commit = CommitOf(partition, it->second, /*force=*/true);
  unconfirmed_[partition] = std::move(it->second);
  parts_.erase(it);
  return commit;
}

void AssignmentLedger::Confirmed(std::int32_t partition) { unconfirmed_.erase(partition); }

std::size_t AssignmentLedger::InFlight(std::int32_t partition) const {
  auto it = parts_.find(partition);
  return it == parts_.end() ? 0 : it->second.tracker.in_flight();
}

void AssignmentLedger::Unhand(std::int32_t partition, std::int64_t offset) {
  auto it = parts_.find(partition);
  if (it != parts_.end()) it->second.tracker.Release(offset);
}

std::vector<std::int32_t> AssignmentLedger::partitions() const {
  std::vector<std::int32_t> out;
  for (const auto& [p, part] : parts_) out.push_back(p);
  return out;
}

std::optional<std::string> AssignmentLedger::Deliver(std::int32_t partition, std::int64_t offset) {
  auto it = parts_.find(partition);
  if (it == parts_.end() || !it->second.tracker.Deliver(offset)) return std::nullopt;
  return TokenOf(partition, offset, it->second.epoch);
}

template <typename F>
void AssignmentLedger::ForEachCurrent(const std::vector<std::string>& tokens, F f) {
  for (const auto& t : tokens) {
    std::int32_t p;
    std::int64_t offset;
    std::uint64_t epoch;
    if (!ParseToken(t, &p, &offset, &epoch)) continue;
    auto it = parts_.find(p);
    if (it == parts_.end() || !SameEpoch(it->second.epoch, epoch)) continue;
    f(it->second, offset);
  }
}

void AssignmentLedger::Ack(const std::vector<std::string>& tokens) {
  ForEachCurrent(tokens, [](Partition& part, std::int64_t offset) {
    part.tracker.Ack(offset);
    part.dirty = true;
  });
}

void AssignmentLedger::Release(const std::vector<std::string>& tokens) {
  ForEachCurrent(tokens, [this](Partition& part, std::int64_t offset) {
    if (part.tracker.Release(offset)) {
      part.seek_to = part.seek_to < 0 ? offset : std::min(part.seek_to, offset);
      seeks_pending_ = true;
    }
  });
}

void AssignmentLedger::Unhand(const std::vector<std::string>& tokens) {
  ForEachCurrent(tokens,
                 [](Partition& part, std::int64_t offset) { part.tracker.Release(offset); });
}

std::optional<std::int32_t> AssignmentLedger::PartitionOf(const std::string& token) {
  std::int32_t p;
  std::int64_t offset;
  std::uint64_t epoch;
  if (!ParseToken(token, &p, &offset, &epoch)) return std::nullopt;
  return p;
}

std::vector<AssignmentLedger::Seek> AssignmentLedger::TakeSeeks() {
  std::vector<Seek> out;
  if (!seeks_pending_) return out;
  seeks_pending_ = false;
  for (auto& [p, part] : parts_) {
    if (part.seek_to < 0) continue;
    out.push_back({p, part.seek_to});
    part.seek_to = -1;
  }
  return out;
}

std::optional<AssignmentLedger::Commit> AssignmentLedger::CommitOf(std::int32_t p, Partition& part,
                                                                   bool force) {
  part.dirty = false;
  const std::int64_t offset = part.tracker.committable();
  if (offset < 0) return std::nullopt;
  std::string meta = part.tracker.EncodeAcked();
  if (!force && offset == part.committed && meta == part.committed_meta) return std::nullopt;
  part.committed = offset;
  part.committed_meta = meta;
  return Commit{p, offset, std::move(meta)};
}

std::vector<AssignmentLedger::Commit> AssignmentLedger::TakeCommits(bool all) {
  std::vector<Commit> out;
  for (auto& [p, part] : parts_) {
    if (!part.dirty && !all) continue;
    if (auto c = CommitOf(p, part, /*force=*/all)) out.push_back(*std::move(c));
  }
  return out;
}

void AssignmentLedger::CommitFailed(std::int32_t partition) {
  auto it = parts_.find(partition);
  if (it == parts_.end()) return;
  it->second.committed = -2;
  it->second.dirty = true;
}

}  // namespace unibus::kafka_internal
