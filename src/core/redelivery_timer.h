// The messages of a subscriber that wait out a backoff.
#ifndef UNIBUS_CORE_REDELIVERY_TIMER_H_
#define UNIBUS_CORE_REDELIVERY_TIMER_H_

#include <chrono>
#include <cstdint>
#include <map>

#include "absl/functional/function_ref.h"

namespace unibus::core_internal {

// Message ids, each due at a time point: the nacked messages waiting for their
// redelivery, or the dead-letter writes waiting for their retry. A plain value:
// not thread-safe (the dispatcher owns it under its lock), keeps no thread; its
// owner sleeps until NextDue() and then calls TakeDue().
class RedeliveryTimer {
 public:
  using Clock = std::chrono::steady_clock;

  // `id` is due at `when`. An id may be scheduled more than once (it is then due
  // once per scheduling); ids due at the same time come out in scheduling order.
  void Schedule(Clock::time_point when, std::uint64_t id) { due_.emplace(when, id); }

  // The earliest due time, or Clock::time_point::max() when nothing waits.
  Clock::time_point NextDue() const {
    return due_.empty() ? Clock::time_point::max() : due_.begin()->first;
  }

  // Removes every id due at or before `now` and calls `f` on each, earliest first.
  // Returns how many there were.
  std::size_t TakeDue(Clock::time_point now, absl::FunctionRef<void(std::uint64_t)> f);

  // Removes every id `drop` returns true for (called once per scheduling, earliest
  // first). Returns how many were removed.
  std::size_t EraseIf(absl::FunctionRef<bool(std::uint64_t)> drop);

  bool empty() const { return due_.empty(); }
  std::size_t size() const { return due_.size(); }
  void Clear() { due_.clear(); }

 private:
  std::multimap<Clock::time_point, std::uint64_t> due_;
};

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_REDELIVERY_TIMER_H_
