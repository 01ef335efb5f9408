// A minimal future with continuations, for publish results.
#ifndef UNIBUS_FUTURE_H_
#define UNIBUS_FUTURE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "unibus/export.h"

namespace unibus {

namespace internal {

// A mutex and condition variable shared by every future state whose address maps
// to it. A publish makes one state per message, and most are read after they are
// set (or through then()), so states do not carry 88 bytes of their own for the
// rare waiter. A notify wakes the slot's other waiters too; they check again.
struct WaitSlot {
  std::mutex mu;
  std::condition_variable cv;
};
UNIBUS_EXPORT WaitSlot& WaitSlotFor(const void* state);  // defined once, in the library

template <typename T>
struct FutureState {
  std::atomic<bool> ready{false};                        // set (release) after `value`
  std::optional<T> value;                                // written once, before `ready`
  std::vector<std::function<void(const T&)>> callbacks;  // guarded by WaitSlotFor(this).mu
};
}  // namespace internal

template <typename T>
class Promise;

// The eventual result of an asynchronous call. Copyable: copies share the result.
// get() blocks until the value is set; then() runs `cb` once the value is set, on
// the thread that sets it (or at once, on the caller's thread, if already set).
// Thread-safe.
template <typename T>
class Future {
 public:
  Future() = default;

  bool valid() const { return state_ != nullptr; }
  bool is_ready() const { return state_->ready.load(std::memory_order_acquire); }
  // Blocks until the result is set and returns it.
  const T& get() const {
    if (!is_ready()) {
      internal::WaitSlot& slot = internal::WaitSlotFor(state_.get());
      std::unique_lock<std::mutex> lock(slot.mu);
      slot.cv.wait(lock, [&] { return is_ready(); });
    }
    return *state_->value;
  }
  // Waits at most `d`; returns true when the result is set.
  template <typename Rep, typename Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const {
    if (is_ready()) return true;
    internal::WaitSlot& slot = internal::WaitSlotFor(state_.get());
    std::unique_lock<std::mutex> lock(slot.mu);
    return slot.cv.wait_for(lock, d, [&] { return is_ready(); });
  }
  // Runs `cb(result)` when the result is set. `cb` must not block for long: it may
  // run on a library thread.
  void then(std::function<void(const T&)> cb) const {
    if (!is_ready()) {
      std::unique_lock<std::mutex> lock(internal::WaitSlotFor(state_.get()).mu);
      if (!is_ready()) {
        state_->callbacks.push_back(std::move(cb));
        return;
      }
    }
    cb(*state_->value);
  }

 private:
  friend class Promise<T>;
  explicit Future(std::shared_ptr<internal::FutureState<T>> s) : state_(std::move(s)) {}
  std::shared_ptr<internal::FutureState<T>> state_;
};

// The writing side of a Future. Move-only; set_value() may be called once.
template <typename T>
class Promise {
 public:
  Promise() : state_(std::make_shared<internal::FutureState<T>>()) {}
  // Keeps `state` (for a backend that allocates the state together with its own
  // per-call data, in one allocation).
  explicit Promise(std::shared_ptr<internal::FutureState<T>> state) : state_(std::move(state)) {}
  Promise(Promise&&) noexcept = default;
  Promise& operator=(Promise&&) noexcept = default;
  Promise(const Promise&) = delete;
  Promise& operator=(const Promise&) = delete;

  Future<T> get_future() const { return Future<T>(state_); }

  void set_value(T v) {
    internal::WaitSlot& slot = internal::WaitSlotFor(state_.get());
    std::vector<std::function<void(const T&)>> cbs;
    {
      std::lock_guard<std::mutex> lock(slot.mu);
      if (state_->ready.load(std::memory_order_relaxed)) return;
      state_->value.emplace(std::move(v));
      state_->ready.store(true, std::memory_order_release);
      cbs.swap(state_->callbacks);
    }
    slot.cv.notify_all();
    for (auto& cb : cbs) cb(*state_->value);
  }

 private:
  std::shared_ptr<internal::FutureState<T>> state_;
};

// A future that is already satisfied.
template <typename T>
Future<T> MakeReadyFuture(T v) {
  Promise<T> p;
  auto f = p.get_future();
  p.set_value(std::move(v));
  return f;
}

}  // namespace unibus

#endif  // UNIBUS_FUTURE_H_
