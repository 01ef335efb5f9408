// Adapts the classifier's micro-batch size and batch wait at run time to keep the p99
// of end-to-end latency under a target (`classify --p99-target-ms`, `pipeline
// --p99-target-ms`), at the highest rate it can.
//
// The rule (AIMD over a sliding window of end-to-end latencies):
//  - every `window` images observed, take the p99 of their latency (published ->
//    prediction published) and of their service time (picked by a worker ->
//    prediction published), and clear the window;
//  - latency p99 > target and latency p99 <= 2 x service p99 (the batches themselves
//    are too slow): multiplicative decrease, batch = max(1, floor, batch / 2), and
//    wait = wait / 2 if the excess (p99 - target) is at most the wait (a wait can add
//    no more than itself; cutting one far below the excess only shrinks the batches,
//    which costs CPU per image on busy cores). The next window checks that it helped: if the
//    service p99 did not fall below kShrinkMustCut of what it was (on 2 busy cores a batch's time
//    is mostly waiting for a core, not the model), the batch goes back to where it was and that
//    size becomes the floor;
//  - latency p99 > target and latency p99 > 2 x service p99 (most of the tail is
//    waiting in the queue: the stage is behind at this batch size): batch =
//    min(ceiling, 2 x batch) and wait = wait / 2, since bigger batches cost the model
//    less per image and drain the backlog sooner; the floor becomes batch + 1 (or,
//    right after a halving, the size before it), so a later decrease does not go
//    back to a size that could not keep up (without it, a loaded stage whose service
//    time is inflated by CPU contention halves its batch down to 1, loses
//    throughput, and the queue grows without bound);
//  - latency p99 < headroom x target (room to spare): additive increase, batch =
//    min(ceiling, batch + 1) and wait = min(ceiling, wait + wait_step);
//  - in between: keep both.
// After kFloorDecayWindows windows at or under the target the floor drops by one (the
// rate may have fallen).
// It starts at the ceilings (the --max-batch and --max-wait-ms given), which are never
// exceeded. Thread-safe: workers read Current() and publish callbacks call Observe()
// concurrently.
#ifndef UNIBUS_PIPELINE_LATENCY_TARGET_H_
#define UNIBUS_PIPELINE_LATENCY_TARGET_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace unibus::pipeline {

struct LatencyTargetOptions {
  absl::Duration p99_target = absl::Milliseconds(10);  // > 0
  std::size_t max_batch = 16;                          // ceiling, >= 1
  absl::Duration max_wait = absl::Milliseconds(2);     // ceiling, >= 0
  std::size_t window = 200;                            // latencies per decision, >= 10
  double headroom = 0.7;                               // grow only below this x target, (0, 1)
  absl::Duration wait_step = absl::Microseconds(250);  // additive increase of the wait
};

class LatencyTarget {
 public:
  // InvalidArgument (saying which option and what is allowed) on a bad option.
  static absl::StatusOr<std::unique_ptr<LatencyTarget>> Create(const LatencyTargetOptions& o);

  struct Setting {
    std::size_t max_batch;
    absl::Duration max_wait;
  };
  // What a worker uses for its next micro-batch.
  Setting Current() const;
  // One image's end-to-end latency (published -> prediction published) and the part
  // of it after a worker picked it (model call and publish). May decide.
  void Observe(absl::Duration latency, absl::Duration service);

  // One decision: the window's p99 and the setting chosen after it.
  struct Decision {
    double p99_ms;          // end-to-end
    double service_p99_ms;  // picked -> prediction published
    std::size_t max_batch;
    absl::Duration max_wait;
  };
  std::vector<Decision> History() const;
  // "target p99 10 ms: 12 windows of 200; batch 16 -> 8 -> 9 ...; now batch 9, wait 1.5 ms"
  std::string Summary() const;

 private:
  explicit LatencyTarget(const LatencyTargetOptions& o);
  void Decide() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const LatencyTargetOptions o_;
  mutable absl::Mutex mu_;
  Setting current_ ABSL_GUARDED_BY(mu_);
  std::vector<double> window_ms_ ABSL_GUARDED_BY(mu_);
  std::vector<double> service_ms_ ABSL_GUARDED_BY(mu_);
  std::vector<Decision> history_ ABSL_GUARDED_BY(mu_);
  static constexpr int kFloorDecayWindows = 10;
  static constexpr double kShrinkMustCut = 0.8;
  std::size_t shrunk_from_ ABSL_GUARDED_BY(mu_) = 0;       // the batch before the last halving
  double service_before_shrink_ ABSL_GUARDED_BY(mu_) = 0;  // ms, service p99 before it
  // The smallest batch a decrease may choose: set by a queue (see above) or by an
  // undone halving.
  std::size_t floor_ ABSL_GUARDED_BY(mu_) = 1;
  int calm_windows_ ABSL_GUARDED_BY(mu_) = 0;  // at or under the target, since floor_ changed
};

}  // namespace unibus::pipeline

#endif  // UNIBUS_PIPELINE_LATENCY_TARGET_H_
