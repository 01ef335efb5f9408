#include "kafka/offset_tracker.h"

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace unibus::kafka_internal {

namespace {
constexpr char kPrefix[] = "unibus1:";
}

OffsetTracker::OffsetTracker(std::int64_t committed, std::set<std::int64_t> acked)
    : base_(committed), next_(committed), acked_(std::move(acked)) {
  Prune();
}

bool OffsetTracker::Deliver(std::int64_t offset) {
  if (base_ < 0) base_ = offset;
  if (next_ < 0) next_ = offset;
  if (offset < base_ || acked_.count(offset)) {
    next_ = std::max(next_, offset + 1);
    return false;
  }
  auto it = pending_.find(offset);
  if (it != pending_.end()) {
    if (it->second == State::kInFlight) return false;
    it->second = State::kInFlight;
    ++in_flight_;
    return true;
  }
  if (offset < next_) return false;  // seen before and settled (pruned below base_)
  pending_.emplace(offset, State::kInFlight);
  ++in_flight_;
  next_ = offset + 1;
  return true;
}

void OffsetTracker::Ack(std::int64_t offset) {
  auto it = pending_.find(offset);
  if (it == pending_.end()) return;
  if (it->second == State::kInFlight) --in_flight_;
  pending_.erase(it);
  acked_.insert(offset);
  Prune();
}

bool OffsetTracker::Release(std::int64_t offset) {
  auto it = pending_.find(offset);
  if (it == pending_.end() || it->second != State::kInFlight) return false;
  it->second = State::kReleased;
  --in_flight_;
  return true;
}

std::int64_t OffsetTracker::committable() const {
  if (!pending_.empty()) return pending_.begin()->first;
  return next_;
}

void OffsetTracker::Prune() {
  // Offsets acked by an earlier owner (from the metadata) right at the commit point
  // need not be read again.
  if (pending_.empty() && next_ >= 0) {
    while (acked_.count(next_)) ++next_;
  }
  const std::int64_t c = committable();
  if (c < 0) return;
  base_ = std::max(base_, c);
  acked_.erase(acked_.begin(), acked_.lower_bound(c));
}

std::string OffsetTracker::EncodeAcked(std::size_t max_bytes) const {
  const std::int64_t c = committable();
  if (acked_.empty() || c < 0) return "";
  std::string out = kPrefix;
  bool first = true;
  for (auto it = acked_.begin(); it != acked_.end();) {
    const std::int64_t lo = *it;
    std::int64_t hi = lo;
    for (++it; it != acked_.end() && *it == hi + 1; ++it) hi = *it;
    std::string range = lo == hi ? absl::StrCat(lo - c) : absl::StrCat(lo - c, "-", hi - c);
    if (out.size() + range.size() + 1 > max_bytes) break;
    if (!first) out += ',';
    out += range;
    first = false;
  }
  return first ? "" : out;
}

std::set<std::int64_t> OffsetTracker::DecodeAcked(const std::string& metadata, std::int64_t committed) {
  std::set<std::int64_t> out;
  if (committed < 0 || !absl::StartsWith(metadata, kPrefix)) return out;
  for (absl::string_view part :
       absl::StrSplit(absl::string_view(metadata).substr(sizeof(kPrefix) - 1), ',', absl::SkipEmpty())) {
    std::vector<absl::string_view> ends = absl::StrSplit(part, '-');
    std::int64_t lo = 0, hi = 0;
    if (ends.size() == 1 && absl::SimpleAtoi(ends[0], &lo)) {
      hi = lo;
    } else if (ends.size() != 2 || !absl::SimpleAtoi(ends[0], &lo) || !absl::SimpleAtoi(ends[1], &hi)) {
      return {};
    }
    if (lo <= 0 || hi < lo || hi - lo > 1000000) return {};
    for (std::int64_t o = lo; o <= hi; ++o) out.insert(committed + o);
  }
  return out;
}

}  // namespace unibus::kafka_internal
