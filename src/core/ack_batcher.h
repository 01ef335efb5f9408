// Batching of acks on their way to a subscription's source.
#ifndef UNIBUS_CORE_ACK_BATCHER_H_
#define UNIBUS_CORE_ACK_BATCHER_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace unibus::core_internal {

// Collects the tokens of settled messages into batches for SubscriptionSource::Ack:
// a batch is due when it holds `max_batch` tokens, or `max_delay` after its first
// token was added. A plain value: not thread-safe (the dispatcher owns it under its
// lock); it keeps no thread and never sleeps, its owner asks DueAt() when to send.
class AckBatcher {
 public:
  using Clock = std::chrono::steady_clock;
  using NowFunction = Clock::time_point (*)();

  // `now` is the clock (a test passes its own).
  AckBatcher(std::size_t max_batch, Clock::duration max_delay, NowFunction now = &Clock::now);

  // Adds the token of a settled message. Returns true when the sender should look
  // again: this token started a batch (its delay starts now) or filled it.
  bool Add(std::string token) {
    tokens_.push_back(std::move(token));
    if (tokens_.size() == 1) {
      first_at_ = now_();
      return true;
    }
    return tokens_.size() == max_batch_;
  }

  // Whether the batch should be sent at `now`.
  bool Due(Clock::time_point now) const {
    return tokens_.size() >= max_batch_ || (!tokens_.empty() && now >= first_at_ + max_delay_);
  }

  // When the batch falls due: Clock::time_point::max() when empty.
  Clock::time_point DueAt() const;

  // Removes and returns the batch (all tokens, in the order added).
  std::vector<std::string> Take();

  bool empty() const { return tokens_.empty(); }
  std::size_t size() const { return tokens_.size(); }

 private:
  const std::size_t max_batch_;
  const Clock::duration max_delay_;
  const NowFunction now_;
  std::vector<std::string> tokens_;
  Clock::time_point first_at_;  // when tokens_[0] was added
};

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_ACK_BATCHER_H_
