#include "pipeline/latency_target.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace unibus::pipeline {

namespace {

// Half the wait, or none once that is under 10 us: repeated halvings went on to waits
// of a fraction of a nanosecond ("wait 2.5e-07 ms" in the summary), which wait for
// nothing but read as a setting.
absl::Duration HalveWait(absl::Duration wait) {
  const absl::Duration half = wait / 2;
  return half < absl::Microseconds(10) ? absl::ZeroDuration() : half;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LatencyTarget>> LatencyTarget::Create(
    const LatencyTargetOptions& o) {
  if (o.p99_target <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--p99-target-ms must be > 0 (milliseconds)");
  }
  if (o.max_batch < 1) return absl::InvalidArgumentError("--max-batch must be at least 1");
  if (o.max_wait < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--max-wait-ms must be >= 0");
  }
  if (o.window < 10) {
    return absl::InvalidArgumentError("latency target window must hold at least 10 latencies");
  }
  if (!(o.headroom > 0 && o.headroom < 1)) {
    return absl::InvalidArgumentError("latency target headroom must be in (0, 1)");
  }
  return std::unique_ptr<LatencyTarget>(new LatencyTarget(o));
}

LatencyTarget::LatencyTarget(const LatencyTargetOptions& o)
    : o_(o), current_{o.max_batch, o.max_wait} {
  window_ms_.reserve(o.window);
  service_ms_.reserve(o.window);
}

LatencyTarget::Setting LatencyTarget::Current() const {
  absl::MutexLock l(&mu_);
  return current_;
}

void LatencyTarget::Observe(absl::Duration latency, absl::Duration service) {
  absl::MutexLock l(&mu_);
  window_ms_.push_back(absl::ToDoubleMilliseconds(latency));
  service_ms_.push_back(absl::ToDoubleMilliseconds(service));
  if (window_ms_.size() >= o_.window) Decide();
}

namespace {
// Nearest-rank p99; reorders `v`.
double P99(std::vector<double>& v) {
  const std::size_t rank =
      static_cast<std::size_t>(std::ceil(0.99 * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + (rank - 1), v.end());
  return v[rank - 1];
}
}  // namespace

void LatencyTarget::Decide() {
  const double p99 = P99(window_ms_);
  const double service = P99(service_ms_);
  window_ms_.clear();
  service_ms_.clear();
  const double target = absl::ToDoubleMilliseconds(o_.p99_target);
  // Most of the tail is before a worker picked the image: a queue, so the stage is
  // behind at this batch size.
  const bool queueing = p99 > 2 * service;
  const std::size_t shrunk_from = std::exchange(shrunk_from_, 0);
  if (shrunk_from != 0 && !queueing && service > kShrinkMustCut * service_before_shrink_) {
    // The last halving did not make the batches faster (their time is not the
    // model's but contention's): go back, and do not try below that size again.
    floor_ = shrunk_from;
    calm_windows_ = 0;
    current_.max_batch = shrunk_from;
  } else if (p99 > target && !queueing) {
    const std::size_t next = std::max({std::size_t{1}, floor_, current_.max_batch / 2});
    if (next < current_.max_batch) {
      shrunk_from_ = current_.max_batch;
      service_before_shrink_ = service;
    }
    current_.max_batch = next;
    // The wait adds at most itself to a latency: cut it only when it could account for
    // the excess. A wait far below the excess is not what makes this tail, and cutting
    // it anyway only makes the batches smaller, which on busy cores costs CPU per image
    // and lengthens the tail (measured: at half the maximum rate every over-target
    // window halved it, down to 0.1 ms, and the p99 went from 8-12 ms without a target
    // to 13-18 ms).
    if (p99 - target <= absl::ToDoubleMilliseconds(current_.max_wait)) {
      current_.max_wait = HalveWait(current_.max_wait);
    }
  } else if (p99 > target) {
    // Right after a halving, the size before it kept up: back to it, and no lower.
    floor_ = std::min(o_.max_batch, shrunk_from != 0 ? shrunk_from : current_.max_batch + 1);
    calm_windows_ = 0;
    current_.max_batch = std::min(o_.max_batch, std::max(floor_, current_.max_batch * 2));
    current_.max_wait = HalveWait(current_.max_wait);
  } else if (p99 < o_.headroom * target) {
    current_.max_batch = std::min(o_.max_batch, current_.max_batch + 1);
    current_.max_wait = std::min(o_.max_wait, current_.max_wait + o_.wait_step);
  }
  if (p99 <= target && floor_ > 1 && ++calm_windows_ >= kFloorDecayWindows) {
    --floor_;  // the rate may have fallen: let smaller batches be tried again
    calm_windows_ = 0;
  }
  history_.push_back({p99, service, current_.max_batch, current_.max_wait});
}

std::vector<LatencyTarget::Decision> LatencyTarget::History() const {
  absl::MutexLock l(&mu_);
  return history_;
}

std::string LatencyTarget::Summary() const {
  absl::MutexLock l(&mu_);
  std::string s = absl::StrFormat("p99 target %g ms: %d windows of %d latencies; batch %d",
                                  absl::ToDoubleMilliseconds(o_.p99_target), history_.size(),
                                  o_.window, o_.max_batch);
  // The batch sizes it chose, in order, each change once (at most the last 40).
  std::vector<std::size_t> changes;
  std::size_t last = o_.max_batch;
  for (const auto& d : history_) {
    if (d.max_batch != last) changes.push_back(d.max_batch);
    last = d.max_batch;
  }
  if (changes.size() > 40) {
    absl::StrAppend(&s, " ... (", changes.size() - 40, " more)");
    changes.erase(changes.begin(), changes.end() - 40);
  }
  for (std::size_t b : changes) absl::StrAppend(&s, " -> ", b);
  double worst = 0;
  for (const auto& d : history_) worst = std::max(worst, d.p99_ms);
  absl::StrAppend(&s, absl::StrFormat("; now batch %d, wait %g ms; worst window p99 %.1f ms",
                                      current_.max_batch,
                                      absl::ToDoubleMilliseconds(current_.max_wait), worst));
  return s;
}

}  // namespace unibus::pipeline
