#include "core/ack_batcher.h"

#include <algorithm>
#include <utility>

namespace unibus::core_internal {

AckBatcher::AckBatcher(std::size_t max_batch, Clock::duration max_delay, NowFunction now)
    : max_batch_(std::max<std::size_t>(1, max_batch)), max_delay_(max_delay), now_(now) {}

AckBatcher::Clock::time_point AckBatcher::DueAt() const {
  if (tokens_.empty()) return Clock::time_point::max();
  if (tokens_.size() >= max_batch_) return first_at_;
  return first_at_ + max_delay_;
}

std::vector<std::string> AckBatcher::Take() {
  std::vector<std::string> batch;
  batch.swap(tokens_);
  // Once per batch, rather than log2(batch) growths while it fills.
  tokens_.reserve(max_batch_);
  return batch;
}

}  // namespace unibus::core_internal
