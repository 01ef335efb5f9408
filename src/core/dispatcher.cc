#include "core/dispatcher.h"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/dispatcher_core.h"
#include "core/thread_name.h"
#include "spdlog/spdlog.h"

namespace unibus::core_internal {
namespace {

constexpr std::size_t kAckBatch = 1000;
constexpr std::chrono::milliseconds kAckDelay{5};
// How long the housekeeper sleeps between looks for acks while they keep coming: an
// ack to be settled (its key passed on, its room freed) waits at most this long when
// neither its Pull caller nor its handler's worker settles it first.
constexpr std::chrono::milliseconds kAckLinger{1};

}  // namespace

DispatchCore::DispatchCore(std::shared_ptr<SubscriptionSource> source, DispatcherConfig config,
                           DeadLetterPublisherFactory dead_letter)
    : source_(std::move(source)),
      config_(std::move(config)),
      dead_letter_(std::move(dead_letter)),
      tracked_(std::min<std::size_t>(4 * config_.options.max_outstanding_messages, 1 << 16)),
      acks_(kAckBatch, kAckDelay) {}

void DispatchCore::StartOnce() {
  MutexLock lock(&mu_);
  if (started_ || stopping_) return;
  started_ = true;
  auto self = shared_from_this();
  source_->SetWithdrawer([weak = std::weak_ptr<DispatchCore>(self)](
                             absl::FunctionRef<bool(const std::string&)> selects) {
    auto core = weak.lock();
    return core ? core->Withdraw(selects) : std::vector<std::string>();
  });
  fetcher_ = std::thread([self] {
    NameThisThread("ub-fetch");
    MutexLock lock(&self->mu_);
    self->FetchLoop();
  });
  housekeeper_ = std::thread([self] {
    NameThisThread("ub-housekeeping");
    MutexLock lock(&self->mu_);
    self->HousekeepingLoop();
  });
}

absl::Status DispatchCore::StartWorkers(MessageHandler handler) {
  {
    MutexLock lock(&mu_);
    if (stopping_) return ShutDownError();
    if (!workers_.empty() || pull_mode_) {
      return absl::FailedPreconditionError(absl::StrCat(
          "subscriber for '", config_.subscription,
          "' is already receiving (Subscribe or Pull); use one Subscriber per session"));
    }
    handler_ = std::move(handler);
    auto self = shared_from_this();
    for (int i = 0; i < config_.options.concurrency; ++i) {
      workers_.emplace_back([self] {
        NameThisThread("ub-handler");
        MutexLock lock(&self->mu_);
        self->WorkerLoop();
      });
    }
  }
  StartOnce();
  return absl::OkStatus();
}

void DispatchCore::Shutdown() {
  std::vector<std::thread> workers;
  const absl::Time deadline = absl::Now() + config_.options.shutdown_timeout;
  {
    MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    stop_deadline_ = deadline;
    workers.swap(workers_);
    // Let running handlers finish, up to the deadline.
    while (in_handler_ != 0 && !idle_cv_.WaitWithDeadline(&mu_, deadline)) {
    }
    if (in_handler_ != 0) {
      Log(spdlog::level::warn, absl::StrCat(in_handler_, " handler(s) of '", config_.subscription,
                                            "' still running after shutdown_timeout; ",
                                            "their messages will be redelivered"));
    }
    ready_cv_.SignalAll();
    work_cv_.SignalAll();
    space_cv_.SignalAll();
    dead_letter_cv_.SignalAll();
  }
  // The handlers' acks reach the source before its Fetch is interrupted: a Kafka
  // rebalance served inside that Fetch waits for them to commit its partitions, and
  // stops waiting at the Interrupt (an ack after it would find its token stale, and
  // the next owner would deliver the message again). The housekeeper, which forwards
  // acks, is joined first so that the source sees acks in order.
  if (housekeeper_.joinable()) housekeeper_.join();
  std::vector<std::string> handled;
  {
    MutexLock lock(&mu_);
    SettlePendingAcks();
    handled = acks_.Take();
  }
  AckOnSource(handled, "before interrupting the fetch");
  source_->Interrupt();  // the fetcher may be blocked in Fetch
  const bool handlers_done = InHandler() == 0;
  for (auto& w : workers) {
    // A handler stuck past the deadline holds only shared state; let it go.
    if (handlers_done)
      w.join();
    else
      w.detach();
  }
  if (fetcher_.joinable()) fetcher_.join();
  {
    // A reject queued just before or during Shutdown (a handler's last one, a pull
    // caller's) is written by the dead-letter thread, which QueueDeadLetter starts
    // until here, before it returns; from here on none starts.
    MutexLock lock(&mu_);
    dead_letterer_closed_ = true;
    dead_letter_cv_.SignalAll();
  }
  if (dead_letterer_.joinable()) dead_letterer_.join();

  std::vector<std::string> acks, release;
  {
    MutexLock lock(&mu_);
    // A dead-letter copy being written is either written (its message is then
    // acked below) or not (released): never both.
    while (dead_letter_in_flight_ != 0 && !idle_cv_.WaitWithDeadline(&mu_, deadline)) {
    }
    if (dead_letter_in_flight_ != 0) {
      Log(spdlog::level::warn,
          absl::StrCat(dead_letter_in_flight_, " dead-letter write(s) of '", config_.subscription,
                       "' unfinished after shutdown_timeout; their messages are released and ",
                       "may also reach the dead-letter topic"));
    }
    SettlePendingAcks();  // acked, not yet settled: not to be released
    acks = acks_.Take();
    tracked_.ForEach([&](std::uint64_t, Tracked& t) { release.push_back(t.delivery.token); });
    tracked_.Clear();
    ready_.clear();
    keys_.Clear();
    backoff_.Clear();
    dead_letters_.clear();
    dead_letter_retries_.Clear();
    stats_.outstanding = 0;
  }
  AckOnSource(acks, "at close");
  if (!release.empty()) {
    if (auto s = source_->Release(release); !s.ok()) {
      Log(spdlog::level::warn, "releasing unsettled messages failed: " + s.ToString());
    }
  }
  source_->Close();
  MutexLock lock(&mu_);
  stopped_ = true;
  ended_cv_.SignalAll();
}

void DispatchCore::AckOnSource(const std::vector<std::string>& tokens, const char* when) {
  if (tokens.empty()) return;
  if (auto s = source_->Ack(tokens); !s.ok()) {
    Log(spdlog::level::warn,
        absl::StrCat("ack of ", tokens.size(), " message(s) on '", config_.subscription, "' ", when,
                     " failed: ", s.ToString()));
  }
}

absl::Status DispatchCore::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  MutexLock lock(&mu_);
  while (!stopped_ && terminal_.ok() && problems_.empty()) {
    if (ended_cv_.WaitWithDeadline(&mu_, deadline)) break;
  }
  if (!problems_.empty()) {
    absl::Status s = std::move(problems_.front());
    problems_.pop_front();
    return s;
  }
  if (!terminal_.ok() || stopped_) return terminal_;
  return absl::DeadlineExceededError("session still running");
}

SubscriberStats DispatchCore::stats() {
  MutexLock lock(&mu_);
  SettlePendingAcks();
  return stats_;
}

void DispatchCore::Ack(std::uint64_t id) {
  bool wake;
  {
    MutexLock lock(&pending_mu_);
    pending_acks_.push_back(id);
    acked_since_look_ = true;
    // Only the first ack after a quiet spell wakes the housekeeper; while acks keep
    // coming it looks every kAckLinger, and Pull and the workers settle their own.
    wake = pending_acks_.size() == 1 && ack_wakes_housekeeper_;
    if (wake) ack_wakes_housekeeper_ = false;
  }
  if (wake) {
    MutexLock lock(&mu_);  // so the signal cannot fall between its check and wait
    work_cv_.Signal();
  }
}

void DispatchCore::Nack(std::uint64_t id, std::string reason, bool reject) {
  MutexLock lock(&mu_);
  Tracked* t = tracked_.Find(id);
  if (t == nullptr) return;
  NackLocked(*t, id, std::move(reason), reject);
}

void DispatchCore::Drop(std::uint64_t id, std::string reason) {
  MutexLock lock(&mu_);
  Tracked* t = tracked_.Find(id);
  if (t == nullptr) return;
  if (t->in_handler) {
    t->dropped = std::move(reason);
    return;
  }
  NackLocked(*t, id, std::move(reason), /*reject=*/false);
}

std::vector<std::string> DispatchCore::Withdraw(
    absl::FunctionRef<bool(const std::string&)> selects) {
  std::vector<std::string> tokens;
  MutexLock lock(&mu_);
  if (stopping_) return tokens;
  // Nacked messages waiting out their backoff (each holds its key).
  std::vector<std::uint64_t> backing_off;
  backoff_.EraseIf([&](std::uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Tracked* t = tracked_.Find(id);
    if (t == nullptr || t->in_handler || !selects(t->delivery.token)) return false;
    backing_off.push_back(id);
    return true;
  });
  for (std::uint64_t id : backing_off) {
    if (Tracked* t = tracked_.Find(id)) tokens.push_back(Forget(id, *t));
  }
  // ready_ holds each key's active message; this loop also finds the messages that
  // join it as keys pass on.
  for (std::size_t i = 0; i < ready_.size();) {
    const std::uint64_t id = ready_[i];
    Tracked* t = tracked_.Find(id);
    if (t == nullptr || !selects(t->delivery.token)) {
      ++i;
      continue;
    }
    ready_.erase(ready_.begin() + static_cast<std::ptrdiff_t>(i));
    tokens.push_back(Forget(id, *t));  // a key passed on joins ready_'s back
  }
  if (!tokens.empty()) WakeFetcherIfRoom();
  return tokens;
}

absl::Status DispatchCore::ShutDownError() const {
  return absl::FailedPreconditionError(
      absl::StrCat("subscriber for '", config_.subscription, "' is shut down"));
}

void DispatchCore::HandlerReturned(std::uint64_t id, std::string failure) {
  Tracked* found = tracked_.Find(id);
  if (found == nullptr) return;
  Tracked& t = *found;
  t.in_handler = false;
  if (t.dropped.empty()) return;
  std::string reason = failure.empty() ? std::move(t.dropped) : std::move(failure);
  t.dropped.clear();
  NackLocked(t, id, std::move(reason), /*reject=*/false);
}

void DispatchCore::NackLocked(Tracked& t, std::uint64_t id, std::string reason, bool reject) {
  ++stats_.nacked;
  t.reason = std::move(reason);
  t.rejected = reject;
  if (reject || t.delivery.message.delivery_attempt >= config_.options.max_delivery_attempts) {
    QueueDeadLetter(id);
    return;
  }
  const int next = t.delivery.message.delivery_attempt + 1;
  backoff_.Schedule(Clock::now() + absl::ToChronoNanoseconds(Backoff(config_.options, next)), id);
  work_cv_.Signal();
}

int DispatchCore::InHandler() {
  MutexLock lock(&mu_);
  return in_handler_;
}

void DispatchCore::Log(spdlog::level::level_enum level, const std::string& msg) const {
  if (config_.logger) config_.logger->log(level, "{}", msg);
}

void DispatchCore::SettlePendingAcks() {
  {
    MutexLock lock(&pending_mu_);
    if (pending_acks_.empty()) return;
    pending_acks_.swap(settling_);
  }
  for (const std::uint64_t id : settling_) {
    Tracked* t = tracked_.Find(id);
    if (t == nullptr) continue;  // already released at shutdown
    ++stats_.acked;
    Settle(id, *t);
  }
  settling_.clear();
}

DispatchCore::AckLook DispatchCore::LookForAcks() {
  MutexLock lock(&pending_mu_);
  if (!pending_acks_.empty()) return AckLook::kPending;
  const bool quiet = !acked_since_look_;
  acked_since_look_ = false;
  ack_wakes_housekeeper_ = quiet;
  return quiet ? AckLook::kQuiet : AckLook::kComing;
}

void DispatchCore::Settle(std::uint64_t id, Tracked& t) {
  if (acks_.Add(Forget(id, t))) work_cv_.Signal();
  WakeFetcherIfRoom();
}

std::string DispatchCore::Forget(std::uint64_t id, Tracked& t) {
  std::string token = std::move(t.delivery.token);
  outstanding_bytes_ -= t.bytes;
  const bool holds_key = !t.key_released;
  const std::string key = std::move(t.delivery.message.ordering_key);
  settled_.push_back(std::move(t.delivery.message));  // freed on the fetch thread
  tracked_.Erase(id);
  stats_.outstanding = static_cast<std::int64_t>(tracked_.size());
  if (holds_key) ReleaseKey(key);
  return token;
}

void DispatchCore::WakeFetcherIfRoom() {
  if (fetcher_waiting_ && HasRoom()) {
    fetcher_waiting_ = false;  // one wake-up is enough (a wake-up is a system call)
    space_cv_.Signal();
  }
}

void DispatchCore::ReleaseKey(const std::string& key) {
  if (auto next = keys_.Release(key)) {
    ready_.push_back(*next);
    ready_cv_.Signal();
  }
}

void DispatchCore::HousekeepingLoop() {
  const auto lease_every = absl::ToChronoNanoseconds(config_.options.ack_deadline / 3);
  auto next_lease = Clock::now() + lease_every;
  for (;;) {
    if (stopping_) return;
    SettlePendingAcks();
    const auto now = Clock::now();
    const bool acks_due = acks_.Due(now);
    auto wake = std::min({next_lease, backoff_.NextDue(), acks_.DueAt()});
    if (!acks_due && wake > now) {
      const AckLook look = LookForAcks();
      if (look != AckLook::kPending) {
        // While acks keep coming, look again after kAckLinger instead of being woken
        // by each one (a wake per ack cost more CPU than the settling, issue 13).
        if (look == AckLook::kComing) wake = std::min(wake, now + kAckLinger);
        // Any signal (a quiet spell's first ack, a nack, an earlier timer) wakes us.
        work_cv_.WaitWithTimeout(&mu_, Until(wake));
        continue;
      }
    }
    const std::size_t redelivered =
        backoff_.TakeDue(now, [&](std::uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          Tracked* t = tracked_.Find(id);
          if (t == nullptr) return;
          ++t->delivery.message.delivery_attempt;
          ready_.push_front(id);  // redelivered before later messages of its key
        });
    if (redelivered > 0) ready_cv_.SignalAll();
    if (acks_due) {
      std::vector<std::string> batch = acks_.Take();
      mu_.Unlock();
      if (auto s = source_->Ack(batch); !s.ok()) {
        Log(spdlog::level::warn,
            absl::StrCat("ack of ", batch.size(), " message(s) on '", config_.subscription,
                         "' failed: ", s.ToString(), "; they will be redelivered"));
      }
      mu_.Lock();
    }
    if (Clock::now() >= next_lease && !source_->needs_lease_extension()) {
      next_lease = Clock::now() + lease_every;
    } else if (Clock::now() >= next_lease) {
      std::vector<std::string> tokens;
      tokens.reserve(tracked_.size());
      tracked_.ForEach([&](std::uint64_t, Tracked& t) { tokens.push_back(t.delivery.token); });
      mu_.Unlock();
      if (!tokens.empty()) {
        if (auto s = source_->ExtendLeases(tokens, config_.options.ack_deadline); !s.ok()) {
          Log(spdlog::level::warn, "lease extension failed: " + s.ToString());
        }
      }
      mu_.Lock();
      next_lease = Clock::now() + lease_every;
    }
  }
}

namespace {

class DispatchSession : public SessionImpl {
 public:
  explicit DispatchSession(std::shared_ptr<DispatchCore> core) : core_(std::move(core)) {}
  void Stop() override { core_->Shutdown(); }
  absl::Status Wait(absl::Duration timeout) override { return core_->Wait(timeout); }

 private:
  std::shared_ptr<DispatchCore> core_;
};

// The connection handed to users; shutting it down (or dropping it) stops the core.
class Dispatcher : public SubscriberConnection {
 public:
  explicit Dispatcher(std::shared_ptr<DispatchCore> core) : core_(std::move(core)) {}
  ~Dispatcher() override { core_->Shutdown(); }

  absl::StatusOr<Session> Subscribe(MessageHandler handler) override {
    if (auto s = core_->StartWorkers(std::move(handler)); !s.ok()) return s;
    return Session(std::make_unique<DispatchSession>(core_));
  }
  absl::StatusOr<std::vector<PulledMessage>> Pull(std::size_t max,
                                                  absl::Duration timeout) override {
    return core_->Pull(max, timeout);
  }
  SubscriberStats stats() const override { return core_->stats(); }
  void Shutdown() override { core_->Shutdown(); }

 private:
  std::shared_ptr<DispatchCore> core_;
};

}  // namespace

absl::Duration Backoff(const SubscriberOptions& options, int attempt) {
  absl::Duration d = options.min_backoff;
  for (int i = 2; i < attempt && d < options.max_backoff; ++i) d *= 2;
  return std::min(d, options.max_backoff);
}

std::shared_ptr<SubscriberConnection> MakeDispatcher(std::shared_ptr<SubscriptionSource> source,
                                                     DispatcherConfig config,
                                                     DeadLetterPublisherFactory dead_letter) {
  return std::make_shared<Dispatcher>(
      std::make_shared<DispatchCore>(std::move(source), std::move(config), std::move(dead_letter)));
}

DeadLetterPublisherFactory DeadLetterThrough(const std::weak_ptr<BrokerConnection>& broker,
                                             std::size_t max_message_bytes) {
  return [broker, max_message_bytes](const std::string& topic) -> absl::StatusOr<DeadLetterTarget> {
    auto b = broker.lock();
    if (!b) return absl::FailedPreconditionError("broker closed before dead-lettering");
    // The topic retains its messages a week, so that a reader subscription made
    // later (DeadLetters) still finds them: without retention, Pub/Sub keeps
    // nothing for a subscription that did not exist at publish time. Any error
    // but AlreadyExists shows again below, from the publisher.
    (void)b->admin()->CreateTopic(TopicConfig{.name = topic, .retention = absl::Hours(24 * 7)});
    PublisherOptions o;
    o.create_topic_if_missing = true;
    auto publisher = b->MakePublisher(topic, o);
    if (!publisher.ok()) return publisher.status();
    return DeadLetterTarget{*std::move(publisher), max_message_bytes};
  };
}

}  // namespace unibus::core_internal
