#include "kafka/assignment.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace unibus::kafka_internal {

using core_internal::MutexLock;

void Assignment::Admit(std::vector<core_internal::Delivery>& batch, std::size_t first,
                       const std::vector<Position>& positions, std::size_t max_bytes, bool keep) {
  std::size_t kept = first, bytes = 0;
  {
    MutexLock lock(&mu_);
    for (std::size_t i = first; i < batch.size(); ++i) {
      const Position& pos = positions[i - first];
      std::optional<std::string> token = ledger_.Deliver(pos.partition, pos.offset);
      if (!token) continue;
      batch[i].token = *std::move(token);
      if (keep && stash_.empty() && (kept == first || bytes + pos.bytes <= max_bytes)) {
        bytes += pos.bytes;
        if (kept != i) batch[kept] = std::move(batch[i]);
        ++kept;
      } else {
        stash_.push_back(Buffered{std::move(batch[i]), pos.partition, pos.offset, pos.bytes});
      }
    }
  }
  batch.resize(kept);
}

bool Assignment::TakeStash(std::size_t max_messages, std::size_t max_bytes,
                           std::vector<core_internal::Delivery>* out) {
  MutexLock lock(&mu_);
  if (stash_.empty()) return false;
  std::size_t bytes = 0;
  while (!stash_.empty() && out->size() < max_messages &&
         (out->empty() || bytes + stash_.front().bytes <= max_bytes)) {
    bytes += stash_.front().bytes;
    out->push_back(std::move(stash_.front().delivery));
    stash_.pop_front();
  }
  return true;
}

void Assignment::Ack(const std::vector<std::string>& tokens) {
  MutexLock lock(&mu_);
  ledger_.Ack(tokens);
  if (revoking_) settled_cv_.SignalAll();
}

void Assignment::Release(const std::vector<std::string>& tokens) {
  MutexLock lock(&mu_);
  ledger_.Release(tokens);
  if (revoking_) settled_cv_.SignalAll();
}

void Assignment::Interrupt() {
  MutexLock lock(&mu_);
  interrupted_ = true;
  settled_cv_.SignalAll();
}

void Assignment::SetWithdrawer(const core_internal::SubscriptionSource::Withdrawer& withdraw) {
  MutexLock lock(&mu_);
  withdraw_ = withdraw;
}

Assignment::Assigned Assignment::Assign(std::vector<Committed> committed, const std::string& topic,
                                        const std::string& subscription) {
  Assigned out;
  MutexLock lock(&mu_);
  for (Committed& c : committed) {
    const auto assigned = ledger_.Assign(c.partition, c.offset, std::move(c.acked));
    if (assigned.kept_own_record) {
      out.notes.push_back(absl::StrCat("partition ", c.partition, " of '", topic,
                                       "' came back to '", subscription,
                                       "' before its commit was confirmed; continuing at offset ",
                                       assigned.start, " (the group had ", c.offset, ")"));
    }
    out.starts.push_back(assigned.start);
  }
  return out;
}

Assignment::Revoked Assignment::Revoke(const std::vector<std::int32_t>& partitions, bool lost,
                                       bool wait_for_handlers, absl::Duration wait) {
  Revoked out;
  MutexLock lock(&mu_);
  auto revoked = [&](std::int32_t p) {
    return std::find(partitions.begin(), partitions.end(), p) != partitions.end();
  };
  // Stashed messages were never handed out: they are not waited for.
  for (auto it = stash_.begin(); it != stash_.end();) {
    if (!revoked(it->partition)) {
      ++it;
      continue;
    }
    ledger_.Unhand(it->partition, it->offset);
    it = stash_.erase(it);
  }
  auto in_flight = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::size_t n = 0;
    for (std::int32_t p : partitions) n += ledger_.InFlight(p);
    return n;
  };
  if (wait_for_handlers) {
    const absl::Time start = absl::Now();
    const absl::Time deadline = start + wait;
    revoking_ = true;
    std::size_t taken_back = 0;
    const core_internal::SubscriptionSource::Withdrawer withdraw = withdraw_;
    auto take_back = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (!withdraw) return;
      mu_.Unlock();  // the dispatcher's lock is taken without ours (lock order)
      std::vector<std::string> tokens = withdraw([&](const std::string& token) {
        const std::optional<std::int32_t> p = AssignmentLedger::PartitionOf(token);
        return p.has_value() && revoked(*p);
      });
      mu_.Lock();
      ledger_.Unhand(tokens);
      taken_back += tokens.size();
    };
    take_back();
    const std::size_t waited_for = in_flight();
    while (!interrupted_ && in_flight() > 0) {
      if (settled_cv_.WaitWithDeadline(&mu_, deadline)) break;
      take_back();
    }
    revoking_ = false;
    if (!interrupted_) out.unsettled = in_flight();
    out.waited =
        absl::StrCat("waited ", absl::FormatDuration(absl::Now() - start), " for ", waited_for,
                     " message(s) in handlers, took back ", taken_back, " queued");
  }
  for (std::int32_t p : partitions) {
    if (auto c = ledger_.Revoke(p, lost)) out.commits.push_back(*std::move(c));
  }
  return out;
}

std::vector<AssignmentLedger::Seek> Assignment::TakeSeeks() {
  MutexLock lock(&mu_);
  return ledger_.TakeSeeks();
}

std::vector<AssignmentLedger::Commit> Assignment::TakeCommits(bool all) {
  MutexLock lock(&mu_);
  return ledger_.TakeCommits(all);
}

void Assignment::CommitFailed(std::int32_t partition) {
  MutexLock lock(&mu_);
  ledger_.CommitFailed(partition);
}

void Assignment::Confirmed(std::int32_t partition) {
  MutexLock lock(&mu_);
  ledger_.Confirmed(partition);
}

bool Assignment::SetPaused(bool pause) {
  MutexLock lock(&mu_);
  if (paused_ == pause) return false;
  paused_ = pause;
  return true;
}

bool Assignment::paused() {
  MutexLock lock(&mu_);
  return paused_;
}

void Assignment::SetError(absl::Status error) {
  MutexLock lock(&mu_);
  error_ = std::move(error);
}

absl::Status Assignment::error() {
  MutexLock lock(&mu_);
  return error_;
}

}  // namespace unibus::kafka_internal
