// The dead-letter thread of a dispatcher: writes each dead-letter copy and settles
// its message, retries transient failures, reports permanent ones.
#include "absl/strings/str_cat.h"
#include "core/dead_letter.h"
#include "core/dispatcher_core.h"
#include "core/thread_name.h"
#include "spdlog/spdlog.h"

namespace unibus::core_internal {
namespace {

using Clock = DispatchCore::Clock;

constexpr std::chrono::seconds kDeadLetterRetryMin{1};
constexpr std::chrono::seconds kDeadLetterRetryMax{30};

}  // namespace

void DispatchCore::QueueDeadLetter(std::uint64_t id) {
  dead_letters_.push_back(id);
  // Also while stopping: a reject settled by Shutdown (or just before it) is still
  // dead-lettered, up to shutdown_timeout, not released to come back.
  if (!dead_letterer_closed_ && !dead_letterer_.joinable()) {
    auto self = shared_from_this();
    dead_letterer_ = std::thread([self] {
      NameThisThread("ub-deadletter");
      MutexLock lock(&self->mu_);
      self->DeadLetterLoop();
    });
  }
  dead_letter_cv_.Signal();
}

void DispatchCore::DeadLetterLoop() {
  for (;;) {
    dead_letter_retries_.TakeDue(Clock::now(), [&](std::uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                                   mu_) { dead_letters_.push_back(id); });
    // Stopping: write what is queued until the shutdown deadline, and keep waiting for
    // more until Shutdown closes the queue (a reject may still come from a pull
    // caller); Shutdown then waits for the writes in flight.
    if (stopping_ &&
        (absl::Now() >= stop_deadline_ || (dead_letterer_closed_ && dead_letters_.empty()))) {
      return;
    }
    if (dead_letters_.empty()) {
      const auto next = dead_letter_retries_.NextDue();
      if (next == Clock::time_point::max()) {
        dead_letter_cv_.Wait(&mu_);
      } else {
        dead_letter_cv_.WaitWithTimeout(&mu_, Until(next));
      }
      continue;
    }
    if (dead_letter_target_.publisher == nullptr) {
      OpenDeadLetterTarget();
      continue;
    }
    const std::uint64_t id = dead_letters_.front();
    dead_letters_.pop_front();
    Tracked* t = tracked_.Find(id);
    if (t == nullptr) continue;
    Message original = t->delivery.message;  // the original stays until the copy is written
    const std::string reason = t->reason;
    const std::string topic = original.topic.empty() ? config_.topic : original.topic;
    const DeadLetterInfo info{.reason = reason,
                              .source_topic = topic,
                              .source_subscription = config_.subscription,
                              .delivery_attempts = original.delivery_attempt};
    const DeadLetterTarget target = dead_letter_target_;
    ++dead_letter_in_flight_;
    mu_.Unlock();
    auto copy = BuildDeadLetterCopy(std::move(original), info, target.max_message_bytes);
    if (copy.ok()) {
      auto self = shared_from_this();
      target.publisher->Publish(*std::move(copy))
          .then([self, id](const absl::StatusOr<MessageId>& r) {
            self->OnDeadLettered(id, r.status());
          });
    } else {
      OnDeadLettered(id, copy.status());
    }
    mu_.Lock();
  }
}

void DispatchCore::OpenDeadLetterTarget() {
  mu_.Unlock();
  absl::StatusOr<DeadLetterTarget> target =
      dead_letter_ ? dead_letter_(config_.options.dead_letter_topic)
                   : absl::FailedPreconditionError("this subscriber has no dead-letter topic");
  mu_.Lock();
  if (target.ok() && target->publisher == nullptr) {
    target = absl::InternalError("the dead-letter publisher factory returned no publisher");
  }
  if (target.ok()) {
    dead_letter_target_ = *std::move(target);
    return;
  }
  const absl::Status error(target.status().code(),
                           absl::StrCat("cannot open it: ", target.status().message()));
  std::deque<std::uint64_t> ids;
  ids.swap(dead_letters_);
  const bool permanent = IsPermanentDeadLetterError(error);
  if (!permanent) {
    Log(spdlog::level::warn, absl::StrCat("dead-letter topic '", config_.options.dead_letter_topic,
                                          "': ", error.message(), "; will retry"));
  }
  for (const std::uint64_t id : ids) {
    Tracked* t = tracked_.Find(id);
    if (t == nullptr) continue;
    if (permanent) {
      DeadLetterFailed(id, *t, error);
    } else {
      dead_letter_retries_.Schedule(Clock::now() + kDeadLetterRetryMin, id);
    }
  }
}

void DispatchCore::OnDeadLettered(std::uint64_t id, const absl::Status& status) {
  MutexLock lock(&mu_);
  if (--dead_letter_in_flight_ == 0) idle_cv_.SignalAll();
  Tracked* t = tracked_.Find(id);
  if (t == nullptr) return;  // released by a Stop that gave up waiting
  if (status.ok()) {
    ++stats_.dead_lettered;
    if (t->rejected) ++stats_.dead_lettered_rejected;
    Settle(id, *t);
    return;
  }
  if (IsPermanentDeadLetterError(status)) {
    DeadLetterFailed(id, *t, status);
    return;
  }
  const int errors = ++t->dead_letter_errors;
  if (errors == 1) {
    Log(spdlog::level::warn,
        absl::StrCat("dead-letter write to '", config_.options.dead_letter_topic,
                     "' failed, will retry: ", status.ToString()));
  }
  const auto delay = std::min<Clock::duration>(kDeadLetterRetryMin * (1 << std::min(errors - 1, 5)),
                                               kDeadLetterRetryMax);
  dead_letter_retries_.Schedule(Clock::now() + delay, id);
  dead_letter_cv_.Signal();
}

void DispatchCore::DeadLetterFailed(std::uint64_t id, Tracked& t, const absl::Status& status) {
  if (t.key_released) return;
  t.key_released = true;
  ++stats_.dead_letter_failed;
  const std::string& mid = t.delivery.message.id;
  std::string what = absl::StrCat(
      "message ", mid.empty() ? absl::StrCat("#", id) : mid, " of '", config_.subscription,
      "' cannot be dead-lettered to '", config_.options.dead_letter_topic, "': ", status.message(),
      "; it stays unacked, its handler does not run again, and it goes back to "
      "the broker when the subscriber stops");
  Log(spdlog::level::err, what);
  absl::Status report(status.code(), what);
  problems_.push_back(std::move(report));
  ended_cv_.SignalAll();
  ReleaseKey(t.delivery.message.ordering_key);
}

}  // namespace unibus::core_internal
