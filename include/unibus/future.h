// A minimal future with continuations, for publish results.
#ifndef UNIBUS_FUTURE_H_
#define UNIBUS_FUTURE_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace unibus {

namespace internal {
template <typename T>
struct FutureState {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<T> value;                       // guarded by mu
  std::vector<std::function<void(const T&)>> callbacks;  // guarded by mu
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
  bool is_ready() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->value.has_value();
  }
  // Blocks until the result is set and returns it.
  const T& get() const {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->cv.wait(lock, [&] { return state_->value.has_value(); });
    return *state_->value;
  }
  // Waits at most `d`; returns true when the result is set.
  template <typename Rep, typename Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const {
    std::unique_lock<std::mutex> lock(state_->mu);
    return state_->cv.wait_for(lock, d, [&] { return state_->value.has_value(); });
  }
  // Runs `cb(result)` when the result is set. `cb` must not block for long: it may
  // run on a library thread.
  void then(std::function<void(const T&)> cb) const {
    std::unique_lock<std::mutex> lock(state_->mu);
    if (state_->value.has_value()) {
      lock.unlock();
      cb(*state_->value);
      return;
    }
    state_->callbacks.push_back(std::move(cb));
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
  Promise(Promise&&) noexcept = default;
  Promise& operator=(Promise&&) noexcept = default;
  Promise(const Promise&) = delete;
  Promise& operator=(const Promise&) = delete;

  Future<T> get_future() const { return Future<T>(state_); }

  void set_value(T v) {
    std::vector<std::function<void(const T&)>> cbs;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      if (state_->value.has_value()) return;
      state_->value.emplace(std::move(v));
      cbs.swap(state_->callbacks);
    }
    state_->cv.notify_all();
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
