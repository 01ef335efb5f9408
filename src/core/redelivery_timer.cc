#include "core/redelivery_timer.h"

namespace unibus::core_internal {

std::size_t RedeliveryTimer::TakeDue(Clock::time_point now,
                                     absl::FunctionRef<void(std::uint64_t)> f) {
  std::size_t n = 0;
  while (!due_.empty() && due_.begin()->first <= now) {
    const std::uint64_t id = due_.begin()->second;
    due_.erase(due_.begin());
    f(id);
    ++n;
  }
  return n;
}

std::size_t RedeliveryTimer::EraseIf(absl::FunctionRef<bool(std::uint64_t)> drop) {
  std::size_t n = 0;
  for (auto it = due_.begin(); it != due_.end();) {
    if (drop(it->second)) {
      it = due_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

}  // namespace unibus::core_internal
