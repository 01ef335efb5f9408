// The state and threads behind one dispatcher (core/dispatcher.h), shared by
// dispatcher.cc (fetching, handing out, settling, housekeeping, shutdown) and
// dispatcher_dead_letter.cc (the dead-letter thread).
#ifndef UNIBUS_CORE_DISPATCHER_CORE_H_
#define UNIBUS_CORE_DISPATCHER_CORE_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/ack_batcher.h"
#include "core/dispatcher.h"
#include "core/key_queue.h"
#include "core/mutex.h"
#include "core/redelivery_timer.h"
#include "core/sequence_table.h"
#include "spdlog/common.h"

namespace unibus::core_internal {

// The whole state sits under one mutex, mu_: fetching, handing out and settling
// touch most of it together, and one lock measured faster than several. Acks from
// user threads queue under pending_mu_ first (lock order: mu_, then pending_mu_).
// The plain classes it owns (KeyQueue, AckBatcher, RedeliveryTimer) keep no lock
// of their own. Threads: one fetcher, one housekeeper (redelivery timer, ack
// batches, leases), `concurrency` workers in Subscribe mode, and a dead-letter
// thread started on first use.
class DispatchCore : public std::enable_shared_from_this<DispatchCore> {
 public:
  using Clock = std::chrono::steady_clock;

  DispatchCore(std::shared_ptr<SubscriptionSource> source, DispatcherConfig config,
               DeadLetterPublisherFactory dead_letter);

  // Starts the fetch and housekeeping threads once. Must hold a shared_ptr to this.
  void StartOnce() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Status StartWorkers(MessageHandler handler) ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<std::vector<PulledMessage>> Pull(std::size_t max, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);

  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Status Wait(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

  SubscriberStats stats() ABSL_LOCKS_EXCLUDED(mu_);

  // SubscriptionSource::Withdrawer: forgets the messages `selects` picks among those
  // in ready_ or waiting out a backoff (never one a handler or Pull caller has),
  // passing their keys on.
  std::vector<std::string> Withdraw(absl::FunctionRef<bool(const std::string&)> selects)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Acks are queued under their own small lock and settled in batches (by the
  // housekeeping thread, or whoever needs them settled first): a lock of mu_ per
  // ack made an acking thread and the fetching thread take turns, each waking the
  // other with a system call.
  void Ack(std::uint64_t id) ABSL_LOCKS_EXCLUDED(mu_, pending_mu_);

  // `reject`: dead-letter now, whatever the attempt count.
  void Nack(std::uint64_t id, std::string reason, bool reject = false) ABSL_LOCKS_EXCLUDED(mu_);

  // An unsettled AckHandler was destroyed. Inside the handler call this is settled
  // when the call returns, so that an exception's message becomes the reason.
  void Drop(std::uint64_t id, std::string reason) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // How long until `t` (negative when it passed).
  static absl::Duration Until(Clock::time_point t) { return absl::FromChrono(t - Clock::now()); }

  // One message fetched from the source and not yet settled.
  struct Tracked {
    Tracked(Delivery d, std::size_t b) : delivery(std::move(d)), bytes(b) {}
    Delivery delivery;
    std::size_t bytes = 0;
    std::string reason;          // why it was last nacked (for the dead-letter attributes)
    bool rejected = false;       // reject(): dead-lettered at once, as unprocessable
    bool in_handler = false;     // a worker is running the handler on it
    std::string dropped;         // why its AckHandler was dropped while in_handler, or empty
    int dead_letter_errors = 0;  // transient failures of its dead-letter write so far
    bool key_released = false;   // its dead-letter write failed for good; its key moved on
  };

  absl::Status ShutDownError() const;

  // Ends the handler call on `id`; `failure` says why it threw, or is empty.
  void HandlerReturned(std::uint64_t id, std::string failure) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void NackLocked(Tracked& t, std::uint64_t id, std::string reason, bool reject)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  class AckImpl : public AckHandlerImpl {
   public:
    AckImpl(std::shared_ptr<DispatchCore> core, std::uint64_t id, int attempt)
        : core_(std::move(core)), id_(id), attempt_(attempt) {}
    void ack() override { core_->Ack(id_); }
    void nack(std::string reason) override { core_->Nack(id_, std::move(reason)); }
    void reject(std::string reason) override {
      core_->Nack(id_, std::move(reason), /*reject=*/true);
    }
    void dropped(std::string reason) override { core_->Drop(id_, std::move(reason)); }
    int delivery_attempt() const override { return attempt_; }

   private:
    std::shared_ptr<DispatchCore> core_;
    std::uint64_t id_;
    int attempt_;
  };

  AckHandler MakeAckHandler(std::uint64_t id, const Tracked& t);

  // The copy of a tracked message a handler or Pull caller gets (the original stays
  // for redelivery and dead-lettering). A source may leave `topic` to us.
  Message HandOut(const Tracked& t) const;

  // Takes the next ready message to hand out, or null when none is ready. A message
  // the broker delivered more than max_delivery_attempts times goes to the
  // dead-letter topic instead: its handler does not run again.
  Tracked* TakeReady(std::uint64_t* id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  int InHandler() ABSL_LOCKS_EXCLUDED(mu_);

  void Log(spdlog::level::level_enum level, const std::string& msg) const;

  // Settles the queued acks.
  void SettlePendingAcks() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) ABSL_LOCKS_EXCLUDED(pending_mu_);

  // What the housekeeper finds before it sleeps: acks waiting to be settled, or none
  // and none since its last look (the next ack then wakes it), or none but some came
  // since (it looks again after a short sleep, unwoken).
  enum class AckLook { kPending, kQuiet, kComing };
  AckLook LookForAcks() ABSL_LOCKS_EXCLUDED(pending_mu_);

  // Removes a settled message and hands its key to the key's next message.
  void Settle(std::uint64_t id, Tracked& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Stops tracking `id` (its bytes, its message, its key, which passes to the key's
  // next message) and returns its token: Settle acks it, Withdraw hands it back.
  std::string Forget(std::uint64_t id, Tracked& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Acks `tokens` on the source (nothing when empty); a failure is logged with `when`.
  void AckOnSource(const std::vector<std::string>& tokens, const char* when)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Wakes a fetcher waiting for flow-control room once there is room.
  void WakeFetcherIfRoom() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void ReleaseKey(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Room for a refill: a quarter of the flow-control limits is free (or the whole
  // of a limit of one). Fetching a few messages each time one is settled would
  // cost a source round trip per message.
  bool HasRoom() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void FetchLoop() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void WorkerLoop() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Redelivers nacked messages when their backoff ends, sends ack batches and
  // extends leases. Never waits on the dead-letter topic.
  void HousekeepingLoop() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Hands `id` to the dead-letter thread (starting it on first use). Not after
  // Stop began: the message then stays unacked.
  void QueueDeadLetter(std::uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Writes the dead-letter copies, one publish at a time; the message is acked
  // (OnDeadLettered) once its copy is written.
  void DeadLetterLoop() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Opens the dead-letter topic for the messages queued; on failure they are
  // retried later (a transient error) or reported (a permanent one).
  void OpenDeadLetterTarget() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void OnDeadLettered(std::uint64_t id, const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);

  // The copy of `t` cannot be written: report it once, keep the message unacked,
  // and let its key move on. Its handler does not run again.
  void DeadLetterFailed(std::uint64_t id, Tracked& t, const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<SubscriptionSource> source_;
  const DispatcherConfig config_;
  const DeadLetterPublisherFactory dead_letter_;

  mutable Mutex mu_;
  CondVar ready_cv_;        // ready_ gained messages, or state changed
  CondVar space_cv_;        // flow-control room freed
  CondVar work_cv_;         // housekeeping has work
  CondVar idle_cv_;         // no handler running / no dead-letter write in flight
  CondVar dead_letter_cv_;  // the dead-letter thread has work
  CondVar ended_cv_;        // stopped_, terminal_ or problems_ changed
  SequenceTable<Tracked> tracked_ ABSL_GUARDED_BY(mu_);   // fetched, not settled, by id
  std::deque<std::uint64_t> ready_ ABSL_GUARDED_BY(mu_);  // to hand out, in order
  KeyQueue keys_ ABSL_GUARDED_BY(mu_);
  RedeliveryTimer backoff_ ABSL_GUARDED_BY(mu_);  // nacked, waiting to be redelivered
  AckBatcher acks_ ABSL_GUARDED_BY(mu_);          // settled, not yet acked on the source
  std::deque<std::uint64_t> dead_letters_ ABSL_GUARDED_BY(mu_);  // for the dead-letter thread
  RedeliveryTimer dead_letter_retries_ ABSL_GUARDED_BY(mu_);     // after a transient failure
  DeadLetterTarget dead_letter_target_ ABSL_GUARDED_BY(mu_);     // opened on first use
  int dead_letter_in_flight_ ABSL_GUARDED_BY(mu_) = 0;           // publishes not yet answered
  std::deque<absl::Status> problems_ ABSL_GUARDED_BY(mu_);       // for Wait(), each once
  std::vector<Message> settled_ ABSL_GUARDED_BY(mu_);            // to free on the fetch thread
  std::vector<Message> freeing_;  // the fetch thread's own: what it frees outside mu_
  Mutex pending_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::vector<std::uint64_t> pending_acks_ ABSL_GUARDED_BY(pending_mu_);  // acked, not settled
  bool acked_since_look_ ABSL_GUARDED_BY(pending_mu_) = false;      // an Ack since LookForAcks
  bool ack_wakes_housekeeper_ ABSL_GUARDED_BY(pending_mu_) = true;  // see Ack
  std::vector<std::uint64_t> settling_ ABSL_GUARDED_BY(mu_);        // SettlePendingAcks' batch
  bool fetcher_waiting_ ABSL_GUARDED_BY(mu_) = false;
  std::size_t outstanding_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  SubscriberStats stats_ ABSL_GUARDED_BY(mu_);
  absl::Status terminal_ ABSL_GUARDED_BY(mu_);
  int in_handler_ ABSL_GUARDED_BY(mu_) = 0;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Set by Shutdown: until then a dead letter queued while stopping (a reject settled
  // at close) is still written, by a dead-letter thread started if need be.
  absl::Time stop_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool dead_letterer_closed_ ABSL_GUARDED_BY(mu_) = false;  // no new dead-letter thread
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool pull_mode_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_ ABSL_GUARDED_BY(mu_);
  // Set before the workers start, read-only after.
  MessageHandler handler_;
  // Started under mu_ before stopping_ is set (dead_letterer_: before
  // dead_letterer_closed_ is set); joined by Shutdown after it is set.
  std::thread fetcher_, housekeeper_, dead_letterer_;
};

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_DISPATCHER_CORE_H_
