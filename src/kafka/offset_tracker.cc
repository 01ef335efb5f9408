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
    : base_(committed), next_(committed), prior_acked_(std::move(acked)) {
  Prune();
}

OffsetTracker::Entry* OffsetTracker::Find(std::int64_t offset) {
  auto it = std::lower_bound(window_.begin(), window_.end(), offset,
                             [](const Entry& e, std::int64_t o) { return e.offset < o; });
  return it != window_.end() && it->offset == offset ? &*it : nullptr;
}

bool OffsetTracker::Deliver(std::int64_t offset) {
  if (base_ < 0) base_ = offset;
  if (next_ < 0) next_ = offset;
  if (offset < base_ || prior_acked_.count(offset)) {
    next_ = std::max(next_, offset + 1);
    return false;
  }
  if (offset < next_) {
    // A re-read after a seek: hand out again only what was released.
    Entry* e = Find(offset);
    if (e == nullptr || e->state != State::kReleased) return false;
    e->state = State::kInFlight;
    ++in_flight_;
    return true;
  }
  window_.push_back({offset, State::kInFlight});
  ++in_flight_;
  ++unsettled_;
  next_ = offset + 1;
  return true;
}

void OffsetTracker::Ack(std::int64_t offset) {
  Entry* e = Find(offset);
  if (e == nullptr || e->state == State::kAcked) return;
  if (e->state == State::kInFlight) --in_flight_;
  e->state = State::kAcked;
  --unsettled_;
  Prune();
}

bool OffsetTracker::Release(std::int64_t offset) {
  Entry* e = Find(offset);
  if (e == nullptr || e->state != State::kInFlight) return false;
  e->state = State::kReleased;
  --in_flight_;
  return true;
}

void OffsetTracker::ReleaseAll() {
  for (Entry& e : window_) {
    if (e.state == State::kInFlight) e.state = State::kReleased;
  }
  in_flight_ = 0;
}

std::int64_t OffsetTracker::committable() const {
  if (!window_.empty()) return window_.front().offset;
  return next_;
}

void OffsetTracker::Prune() {
  while (!window_.empty() && window_.front().state == State::kAcked) window_.pop_front();
  // Offsets acked by an earlier owner (from the metadata) right at the commit point
  // need not be read again.
  if (window_.empty() && next_ >= 0) {
    while (prior_acked_.count(next_)) ++next_;
  }
  const std::int64_t c = committable();
  if (c < 0) return;
  base_ = std::max(base_, c);
  prior_acked_.erase(prior_acked_.begin(), prior_acked_.lower_bound(c));
}

std::string OffsetTracker::EncodeAcked(std::size_t max_bytes) const {
  const std::int64_t c = committable();
  if (c < 0) return "";
  std::vector<std::int64_t> acked;
  for (const Entry& e : window_) {
    if (e.state == State::kAcked) acked.push_back(e.offset);
  }
  if (!prior_acked_.empty()) {
    acked.insert(acked.end(), prior_acked_.begin(), prior_acked_.end());
    std::sort(acked.begin(), acked.end());
  }
  if (acked.empty()) return "";
  std::string out = kPrefix;
  bool first = true;
  for (auto it = acked.begin(); it != acked.end();) {
    const std::int64_t lo = *it;
    std::int64_t hi = lo;
    for (++it; it != acked.end() && *it == hi + 1; ++it) hi = *it;
    std::string range = lo == hi ? absl::StrCat(lo - c) : absl::StrCat(lo - c, "-", hi - c);
    if (out.size() + range.size() + 1 > max_bytes) break;
    if (!first) out += ',';
    out += range;
    first = false;
  }
  return first ? "" : out;
}

std::set<std::int64_t> OffsetTracker::DecodeAcked(const std::string& metadata,
                                                  std::int64_t committed) {
  std::set<std::int64_t> out;
  if (committed < 0 || !absl::StartsWith(metadata, kPrefix)) return out;
  for (absl::string_view part : absl::StrSplit(
           absl::string_view(metadata).substr(sizeof(kPrefix) - 1), ',', absl::SkipEmpty())) {
    std::vector<absl::string_view> ends = absl::StrSplit(part, '-');
    std::int64_t lo = 0, hi = 0;
    if (ends.size() == 1 && absl::SimpleAtoi(ends[0], &lo)) {
      hi = lo;
    } else if (ends.size() != 2 || !absl::SimpleAtoi(ends[0], &lo) ||
               !absl::SimpleAtoi(ends[1], &hi)) {
      return {};
    }
    if (lo <= 0 || hi < lo || hi - lo > 1000000) return {};
    for (std::int64_t o = lo; o <= hi; ++o) out.insert(committed + o);
  }
  return out;
}

}  // namespace unibus::kafka_internal
