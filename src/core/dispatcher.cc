#include "core/dispatcher.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/sequence_table.h"
#include "core/thread_name.h"
#include "spdlog/spdlog.h"

namespace unibus::core_internal {
namespace {

using Clock = std::chrono::steady_clock;

// One message fetched from the source and not yet settled.
struct Tracked {
  Tracked(Delivery d, std::size_t b) : delivery(std::move(d)), bytes(b) {}
  Delivery delivery;
  std::size_t bytes = 0;
  std::string reason;  // why it was last nacked (for the dead-letter attributes)
  bool dead_lettering = false;
  bool in_handler = false;  // a worker is running the handler on it
  std::string dropped;      // why its AckHandler was dropped while in_handler, or empty
};

constexpr std::size_t kAckBatch = 1000;
constexpr std::chrono::milliseconds kAckDelay{5};

class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(std::shared_ptr<SubscriptionSource> source, DispatcherConfig config,
       DeadLetterPublisherFactory dead_letter)
      : source_(std::move(source)),
        config_(std::move(config)),
        dead_letter_(std::move(dead_letter)),
        tracked_(std::min<std::size_t>(4 * config_.options.max_outstanding_messages, 1 << 16)) {}

  // Starts the fetch and housekeeping threads once. Must hold a shared_ptr to this.
  void StartOnce() {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_ || stopping_) return;
    started_ = true;
    auto self = shared_from_this();
    fetcher_ = std::thread([self] {
      NameThisThread("ub-fetch");
      self->FetchLoop();
    });
    housekeeper_ = std::thread([self] {
      NameThisThread("ub-housekeeping");
      self->HousekeepingLoop();
    });
  }

  absl::Status StartWorkers(MessageHandler handler) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_)
        return absl::FailedPreconditionError(
            absl::StrCat("subscriber for '", config_.subscription, "' is shut down"));
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
          self->WorkerLoop();
        });
      }
    }
    StartOnce();
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<PulledMessage>> Pull(std::size_t max, absl::Duration timeout) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!workers_.empty()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "subscriber for '", config_.subscription, "' is running a Subscribe() session; ",
            "Pull() and Subscribe() cannot share one subscriber"));
      }
      pull_mode_ = true;
    }
    StartOnce();
    std::vector<PulledMessage> out;
    std::unique_lock<std::mutex> lock(mu_);
    ready_cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                       [&] { return stopping_ || !ready_.empty() || !terminal_.ok(); });
    if (!terminal_.ok() && ready_.empty()) return terminal_;
    if (stopping_) {
      return absl::FailedPreconditionError(
          absl::StrCat("subscriber for '", config_.subscription, "' is shut down"));
    }
    out.reserve(std::min(max, ready_.size()));
    while (!ready_.empty() && out.size() < max) {
      const std::uint64_t id = ready_.front();
      ready_.pop_front();
      Tracked* t = tracked_.Find(id);
      if (t == nullptr) continue;
      ++stats_.delivered;
      out.push_back(PulledMessage{HandOut(*t), MakeAckHandler(id, *t)});
    }
    return out;
  }

  void Shutdown() {
    std::vector<std::thread> workers;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      workers.swap(workers_);
      // Let running handlers finish, up to the deadline.
      idle_cv_.wait_for(lock, absl::ToChronoNanoseconds(config_.options.shutdown_timeout),
                        [&] { return in_handler_ == 0; });
      if (in_handler_ != 0) {
        Log(spdlog::level::warn, absl::StrCat(in_handler_, " handler(s) of '", config_.subscription,
                                              "' still running after shutdown_timeout; ",
                                              "their messages will be redelivered"));
      }
    }
    ready_cv_.notify_all();
    work_cv_.notify_all();
    space_cv_.notify_all();
    source_->Interrupt();  // the fetcher may be blocked in Fetch
    for (auto& w : workers) {
      // A handler stuck past the deadline holds only shared state; let it go.
      if (w.joinable()) {
        if (in_handler_snapshot() == 0)
          w.join();
        else
          w.detach();
      }
    }
    if (fetcher_.joinable()) fetcher_.join();
    if (housekeeper_.joinable()) housekeeper_.join();

    std::vector<std::string> acks, release;
    {
      std::lock_guard<std::mutex> lock(mu_);
      SettlePendingAcksLocked();  // acked, not yet settled: not to be released
      acks.swap(acks_);
      tracked_.ForEach([&](std::uint64_t, Tracked& t) { release.push_back(t.delivery.token); });
      tracked_.Clear();
      ready_.clear();
      keys_.clear();
      backoff_.clear();
      stats_.outstanding = 0;
    }
    if (!acks.empty()) {
      if (auto s = source_->Ack(acks); !s.ok())
        Log(spdlog::level::warn, "final ack failed: " + s.ToString());
    }
    if (!release.empty()) {
      if (auto s = source_->Release(release); !s.ok()) {
        Log(spdlog::level::warn, "releasing unsettled messages failed: " + s.ToString());
      }
    }
    source_->Close();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    ready_cv_.notify_all();
  }

  absl::Status Wait(absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!ready_cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                            [&] { return stopped_ || !terminal_.ok(); })) {
      return absl::DeadlineExceededError("session still running");
    }
    return terminal_;
  }

  SubscriberStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    SettlePendingAcksLocked();
    return stats_;
  }

  // Acks are queued under their own small lock and settled in batches (by the
  // housekeeping thread, or whoever needs them settled first): a lock of mu_ per
  // ack made an acking thread and the fetching thread take turns, each waking the
  // other with a system call.
  void Ack(std::uint64_t id) {
    bool first;
    {
      std::lock_guard<std::mutex> lock(pending_mu_);
      pending_acks_.push_back(id);
      first = pending_acks_.size() == 1;
    }
    if (first) {
      std::lock_guard<std::mutex> lock(
          mu_);  // so the notify cannot fall between its check and wait
      work_cv_.notify_one();
    }
  }

  // `reject`: dead-letter now, whatever the attempt count.
  void Nack(std::uint64_t id, std::string reason, bool reject = false) {
    std::lock_guard<std::mutex> lock(mu_);
    Tracked* t = tracked_.Find(id);
    if (t == nullptr) return;
    NackLocked(*t, id, std::move(reason), reject);
  }

  // An unsettled AckHandler was destroyed. Inside the handler call this is settled
  // when the call returns, so that an exception's message becomes the reason.
  void Drop(std::uint64_t id, std::string reason) {
    std::lock_guard<std::mutex> lock(mu_);
    Tracked* t = tracked_.Find(id);
    if (t == nullptr) return;
    if (t->in_handler) {
      t->dropped = std::move(reason);
      return;
    }
    NackLocked(*t, id, std::move(reason), /*reject=*/false);
  }

 private:
  // Ends the handler call on `id`; `failure` says why it threw, or is empty.
  void HandlerReturned(std::uint64_t id, std::string failure) {
    Tracked* found = tracked_.Find(id);
    if (found == nullptr) return;
    Tracked& t = *found;
    t.in_handler = false;
    if (t.dropped.empty()) return;
    std::string reason = failure.empty() ? std::move(t.dropped) : std::move(failure);
    t.dropped.clear();
    NackLocked(t, id, std::move(reason), /*reject=*/false);
  }

  void NackLocked(Tracked& t, std::uint64_t id, std::string reason, bool reject) {
    ++stats_.nacked;
    t.reason = std::move(reason);
    if (reject || t.delivery.message.delivery_attempt >= config_.options.max_delivery_attempts) {
      t.dead_lettering = true;
      dead_letters_.push_back(id);
    } else {
      const int next = t.delivery.message.delivery_attempt + 1;
      backoff_.emplace(Clock::now() + absl::ToChronoNanoseconds(Backoff(config_.options, next)),
                       id);
    }
    work_cv_.notify_one();
  }

  class AckImpl : public AckHandlerImpl {
   public:
    AckImpl(std::shared_ptr<Core> core, std::uint64_t id, int attempt)
        : core_(std::move(core)), id_(id), attempt_(attempt) {}
    void ack() override { core_->Ack(id_); }
    void nack(std::string reason) override { core_->Nack(id_, std::move(reason)); }
    void reject(std::string reason) override {
      core_->Nack(id_, std::move(reason), /*reject=*/true);
    }
    void dropped(std::string reason) override { core_->Drop(id_, std::move(reason)); }
    int delivery_attempt() const override { return attempt_; }

   private:
    std::shared_ptr<Core> core_;
    std::uint64_t id_;
    int attempt_;
  };

  AckHandler MakeAckHandler(std::uint64_t id, const Tracked& t) {
    return AckHandler(
        std::make_unique<AckImpl>(shared_from_this(), id, t.delivery.message.delivery_attempt));
  }

  // The copy of a tracked message a handler or Pull caller gets (the original stays
  // for redelivery and dead-lettering). A source may leave `topic` to us.
  Message HandOut(const Tracked& t) const {
    Message m = t.delivery.message;
    if (m.topic.empty()) m.topic = config_.topic;
    return m;
  }

  int in_handler_snapshot() {
    std::lock_guard<std::mutex> lock(mu_);
    return in_handler_;
  }

  void Log(spdlog::level::level_enum level, const std::string& msg) const {
    if (config_.logger) config_.logger->log(level, "{}", msg);
  }

  // Settles the queued acks.
  void SettlePendingAcksLocked() {
    {
      std::lock_guard<std::mutex> lock(pending_mu_);
      if (pending_acks_.empty()) return;
      pending_acks_.swap(settling_);
    }
    for (const std::uint64_t id : settling_) {
      Tracked* t = tracked_.Find(id);
      if (t == nullptr) continue;  // already released at shutdown
      ++stats_.acked;
      SettleLocked(id, *t);
    }
    settling_.clear();
  }

  bool HasPendingAcks() {
    std::lock_guard<std::mutex> lock(pending_mu_);
    return !pending_acks_.empty();
  }

  // Removes a settled message and hands its key to the key's next message.
  void SettleLocked(std::uint64_t id, Tracked& t) {
    acks_.push_back(std::move(t.delivery.token));
    outstanding_bytes_ -= t.bytes;
    const std::string key = std::move(t.delivery.message.ordering_key);
    settled_.push_back(std::move(t.delivery.message));
    tracked_.Erase(id);
    stats_.outstanding = static_cast<std::int64_t>(tracked_.size());
    if (!key.empty()) {
      auto k = keys_.find(key);
      if (k != keys_.end()) {
        if (k->second.empty()) {
          keys_.erase(k);
        } else {
          ready_.push_back(k->second.front());
          k->second.pop_front();
          ready_cv_.notify_one();
        }
      }
    }
    if (acks_.size() == 1) {
      first_ack_at_ = Clock::now();
      work_cv_.notify_one();
    } else if (acks_.size() == kAckBatch) {
      work_cv_.notify_one();
    }
    if (fetcher_waiting_ && HasRoomLocked()) {
      fetcher_waiting_ = false;  // one wake-up is enough (a notify is a system call)
      space_cv_.notify_one();
    }
  }

  // Room for a refill: a quarter of the flow-control limits is free (or the whole
  // of a limit of one). Fetching a few messages each time one is settled would
  // cost a source round trip per message.
  bool HasRoomLocked() const {
    const std::size_t max = config_.options.max_outstanding_messages;
    const std::size_t max_bytes = config_.options.max_outstanding_bytes;
    return tracked_.size() + std::max<std::size_t>(1, max / 4) <= max &&
           outstanding_bytes_ + max_bytes / 4 < max_bytes;
  }

  void FetchLoop() {
    absl::Duration retry = absl::Milliseconds(100);
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      SettlePendingAcksLocked();
      while (!stopping_ && !HasRoomLocked()) {
        fetcher_waiting_ = true;
        space_cv_.wait(lock);
      }
      fetcher_waiting_ = false;
      if (stopping_) break;
      const std::size_t room = config_.options.max_outstanding_messages - tracked_.size();
      const std::size_t room_bytes = config_.options.max_outstanding_bytes - outstanding_bytes_;
      // Settled messages are freed here, on the thread that fetched (and so
      // allocated) them: glibc frees from another thread much more slowly. The
      // two vectors trade places, keeping their capacity: a large allocation per
      // batch would make glibc consolidate every small free chunk each time.
      settled_.swap(freeing_);
      lock.unlock();
      freeing_.clear();
      auto fetched = source_->Fetch(room, room_bytes, absl::Milliseconds(100));
      lock.lock();
      if (!fetched.ok()) {
        if (absl::IsUnavailable(fetched.status()) || absl::IsDeadlineExceeded(fetched.status()) ||
            absl::IsResourceExhausted(fetched.status()) || absl::IsAborted(fetched.status())) {
          Log(spdlog::level::warn,
              absl::StrCat("fetch from '", config_.subscription, "' failed, retrying in ",
                           absl::FormatDuration(retry), ": ", fetched.status().ToString()));
          space_cv_.wait_for(lock, absl::ToChronoNanoseconds(retry), [&] { return stopping_; });
          retry = std::min(retry * 2, absl::Seconds(5));
          continue;
        }
        Log(spdlog::level::err, "subscriber stopped: " + fetched.status().ToString());
        terminal_ = fetched.status();
        ready_cv_.notify_all();
        break;
      }
      retry = absl::Milliseconds(100);
      bool any = false;
      for (auto& d : *fetched) {
        if (d.message.delivery_attempt < 1) d.message.delivery_attempt = 1;
        const std::size_t bytes = d.message.ByteSize();
        outstanding_bytes_ += bytes;
        std::string key = d.message.ordering_key;
        const std::uint64_t id = tracked_.Emplace(std::move(d), bytes);
        bool queue_now = true;
        if (!key.empty()) {
          auto [k, inserted] = keys_.try_emplace(std::move(key));
          if (!inserted) {
            k->second.push_back(id);
            queue_now = false;
          }
        }
        if (queue_now) ready_.push_back(id);
        any = true;
      }
      stats_.outstanding = static_cast<std::int64_t>(tracked_.size());
      if (any) ready_cv_.notify_all();
    }
  }

  void WorkerLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      ready_cv_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
      if (stopping_) return;
      const std::uint64_t id = ready_.front();
      ready_.pop_front();
      Tracked* t = tracked_.Find(id);
      if (t == nullptr) continue;
      Message m = HandOut(*t);
      AckHandler h = MakeAckHandler(id, *t);
      t->in_handler = true;
      ++stats_.delivered;
      ++in_handler_;
      lock.unlock();
      std::string failure;
      try {
        handler_(std::move(m), std::move(h));
      } catch (const std::exception& e) {
        failure = absl::StrCat("handler threw: ", e.what());
      } catch (...) {
        failure = "handler threw a non-std::exception";
      }
      lock.lock();
      HandlerReturned(id, std::move(failure));
      if (--in_handler_ == 0) idle_cv_.notify_all();
    }
  }

  void HousekeepingLoop() {
    const auto lease_every = absl::ToChronoNanoseconds(config_.options.ack_deadline / 3);
    auto next_lease = Clock::now() + lease_every;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (stopping_) return;
      SettlePendingAcksLocked();
      auto wake = next_lease;
      if (!backoff_.empty()) wake = std::min(wake, backoff_.begin()->first);
      // Acks go to the source in batches: when kAckBatch are waiting, or kAckDelay
      // after the first of them.
      const bool acks_due = acks_.size() >= kAckBatch ||
                            (!acks_.empty() && Clock::now() >= first_ack_at_ + kAckDelay);
      if (!acks_.empty() && !acks_due) wake = std::min(wake, first_ack_at_ + kAckDelay);
      if (!acks_due && dead_letters_.empty() && wake > Clock::now() && !HasPendingAcks()) {
        // Any notify (a new ack, an earlier timer) wakes us to look again.
        work_cv_.wait_until(lock, wake);
        continue;
      }
      const auto now = Clock::now();
      bool woke = false;
      while (!backoff_.empty() && backoff_.begin()->first <= now) {
        const std::uint64_t id = backoff_.begin()->second;
        backoff_.erase(backoff_.begin());
        Tracked* t = tracked_.Find(id);
        if (t == nullptr) continue;
        ++t->delivery.message.delivery_attempt;
        ready_.push_front(id);  // redelivered before later messages of its key
        woke = true;
      }
      if (woke) ready_cv_.notify_all();
      if (acks_due) {
        std::vector<std::string> acks;
        acks.swap(acks_);
        acks_.reserve(kAckBatch);  // once per batch, not log2(batch) growths
        lock.unlock();
        if (auto s = source_->Ack(acks); !s.ok()) {
          Log(spdlog::level::warn,
              absl::StrCat("ack of ", acks.size(), " message(s) on '", config_.subscription,
                           "' failed: ", s.ToString(), "; they will be redelivered"));
        }
        lock.lock();
      }
      if (!dead_letters_.empty()) {
        std::vector<std::uint64_t> ids;
        ids.swap(dead_letters_);
        DeadLetterLocked(lock, ids);
      }
      if (Clock::now() >= next_lease && !source_->needs_lease_extension()) {
        next_lease = Clock::now() + lease_every;
      } else if (Clock::now() >= next_lease) {
        std::vector<std::string> tokens;
        tokens.reserve(tracked_.size());
        tracked_.ForEach([&](std::uint64_t, Tracked& t) { tokens.push_back(t.delivery.token); });
        lock.unlock();
        if (!tokens.empty()) {
          if (auto s = source_->ExtendLeases(tokens, config_.options.ack_deadline); !s.ok()) {
            Log(spdlog::level::warn, "lease extension failed: " + s.ToString());
          }
        }
        lock.lock();
        next_lease = Clock::now() + lease_every;
      }
    }
  }

  // Publishes each message to the dead-letter topic; acks it on the source once the
  // dead-letter publish succeeded, retries after a backoff otherwise.
  void DeadLetterLocked(std::unique_lock<std::mutex>& lock, const std::vector<std::uint64_t>& ids) {
    if (dead_letter_publisher_ == nullptr) {
      lock.unlock();
      auto p = dead_letter_(config_.options.dead_letter_topic);
      lock.lock();
      if (!p.ok()) {
        Log(spdlog::level::err,
            absl::StrCat("cannot open dead-letter topic '", config_.options.dead_letter_topic,
                         "': ", p.status().ToString(), "; will retry"));
        for (auto id : ids) backoff_.emplace(Clock::now() + std::chrono::seconds(1), id);
        return;
      }
      dead_letter_publisher_ = *p;
    }
    auto self = shared_from_this();
    for (auto id : ids) {
      const Tracked* found = tracked_.Find(id);
      if (found == nullptr) continue;
      const Tracked& t = *found;
      Message m;
      m.data = t.delivery.message.data;
      m.attributes = t.delivery.message.attributes;
      m.ordering_key = t.delivery.message.ordering_key;
      m.attributes[kDeadLetterReason] = t.reason;
      m.attributes[kDeadLetterSourceTopic] = config_.topic;
      m.attributes[kDeadLetterSourceSubscription] = config_.subscription;
      m.attributes[kDeadLetterAttempts] = std::to_string(t.delivery.message.delivery_attempt);
      auto publisher = dead_letter_publisher_;
      lock.unlock();
      publisher->Publish(std::move(m)).then([self, id](const absl::StatusOr<MessageId>& r) {
        self->OnDeadLettered(id, r.status());
      });
      lock.lock();
    }
  }

  void OnDeadLettered(std::uint64_t id, const absl::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    Tracked* t = tracked_.Find(id);
    if (t == nullptr) return;
    if (!status.ok()) {
      Log(spdlog::level::err, "dead-letter publish failed, will retry: " + status.ToString());
      backoff_.emplace(Clock::now() + std::chrono::seconds(1), id);
      work_cv_.notify_one();
      return;
    }
    ++stats_.dead_lettered;
    SettleLocked(id, *t);
  }

  const std::shared_ptr<SubscriptionSource> source_;
  const DispatcherConfig config_;
  const DeadLetterPublisherFactory dead_letter_;

  mutable std::mutex mu_;
  std::condition_variable ready_cv_;  // ready_ gained messages, or state changed
  std::condition_variable space_cv_;  // flow-control room freed
  std::condition_variable work_cv_;   // housekeeping has work
  std::condition_variable idle_cv_;   // no handler running
  SequenceTable<Tracked> tracked_;    // guarded by mu_: fetched, not settled, by id
  std::deque<std::uint64_t> ready_;   // guarded by mu_
  // Ordering keys with a message in progress -> that key's later messages.
  absl::flat_hash_map<std::string, std::deque<std::uint64_t>> keys_;  // guarded by mu_
  std::multimap<Clock::time_point, std::uint64_t> backoff_;           // guarded by mu_
  std::vector<std::uint64_t> dead_letters_;                           // guarded by mu_
  std::vector<std::string> acks_;                                     // guarded by mu_
  std::vector<Message> settled_;  // guarded by mu_: to free on the fetch thread
  std::vector<Message> freeing_;  // the fetch thread's own: what it frees outside mu_
  std::mutex pending_mu_;         // guards pending_acks_ only; taken after mu_, never before
  std::vector<std::uint64_t> pending_acks_;  // guarded by pending_mu_: acked, not yet settled
  std::vector<std::uint64_t> settling_;      // guarded by mu_: SettlePendingAcksLocked's batch
  Clock::time_point first_ack_at_;           // guarded by mu_: of acks_[0]
  bool fetcher_waiting_ = false;             // guarded by mu_
  std::size_t outstanding_bytes_ = 0;        // guarded by mu_
  SubscriberStats stats_;                    // guarded by mu_
  absl::Status terminal_;                    // guarded by mu_
  int in_handler_ = 0;                       // guarded by mu_
  bool started_ = false, stopping_ = false, stopped_ = false, pull_mode_ = false;  // guarded by mu_
  MessageHandler handler_;
  std::shared_ptr<PublisherConnection> dead_letter_publisher_;  // guarded by mu_
  std::vector<std::thread> workers_;                            // guarded by mu_
  std::thread fetcher_, housekeeper_;
};

class DispatchSession : public SessionImpl {
 public:
  explicit DispatchSession(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  void Stop() override { core_->Shutdown(); }
  absl::Status Wait(absl::Duration timeout) override { return core_->Wait(timeout); }

 private:
  std::shared_ptr<Core> core_;
};

// The connection handed to users; shutting it down (or dropping it) stops the core.
class Dispatcher : public SubscriberConnection {
 public:
  explicit Dispatcher(std::shared_ptr<Core> core) : core_(std::move(core)) {}
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
  std::shared_ptr<Core> core_;
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
      std::make_shared<Core>(std::move(source), std::move(config), std::move(dead_letter)));
}

DeadLetterPublisherFactory DeadLetterThrough(std::weak_ptr<BrokerConnection> broker,
                                             std::size_t /*max_message_bytes*/) {
  return
      [broker](const std::string& topic) -> absl::StatusOr<std::shared_ptr<PublisherConnection>> {
        auto b = broker.lock();
        if (!b) return absl::FailedPreconditionError("broker closed before dead-lettering");
        PublisherOptions o;
        o.create_topic_if_missing = true;
        return b->MakePublisher(topic, o);
      };
}

}  // namespace unibus::core_internal
