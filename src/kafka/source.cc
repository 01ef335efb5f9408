#include "kafka/source.h"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/mutex.h"
#include "core/thread_name.h"
#include "kafka/assignment.h"
#include "kafka/consumer_group.h"
#include "kafka/record.h"
#include "spdlog/logger.h"

namespace unibus::kafka_internal {
namespace {

using Clock = std::chrono::steady_clock;
using core_internal::MutexLock;

// Lock order: poll_mu_ before keeper_mu_ and before assignment_'s lock; keeper_mu_
// and assignment_'s lock are never held together. librdkafka calls our rebalance and
// commit callbacks on the thread that polls, which holds poll_mu_.
class KafkaSource : public core_internal::SubscriptionSource {
 public:
  KafkaSource(ClientConfig config, std::string subscription, std::string topic,
              SubscriberOptions options)
      : config_(std::move(config)),
        subscription_(std::move(subscription)),
        topic_(std::move(topic)),
        options_(std::move(options)) {}

  ~KafkaSource() override { Close(); }

  absl::Status Start() {
    opaque_->logger = config_.options.logger.get();
    opaque_->owner = this;
    auto rk = MakeConsumer(config_, subscription_, options_.start, opaque_.get(),
                           &KafkaSource::OnRebalance, &KafkaSource::OnCommitted);
    if (!rk.ok()) return rk.status();
    rk_ = *std::move(rk);
    rd_kafka_poll_set_consumer(rk_.get());
    queue_.reset(rd_kafka_queue_get_consumer(rk_.get()));
    PartitionListPtr topics(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(topics.get(), topic_.c_str(), RD_KAFKA_PARTITION_UA);
    if (auto err = rd_kafka_subscribe(rk_.get(), topics.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return ToStatus(
          err, absl::StrCat("subscribe '", subscription_, "' to '", topic_, "' on ", config_.url));
    }
    last_fetch_end_ = NowNanos();
    keeper_ = std::thread([this] {
      core_internal::NameThisThread("ub-kafka-keep");
      KeeperLoop();
    });
    return absl::OkStatus();
  }

  // Polls the consumer on the caller's thread: the messages go from librdkafka's
  // queue to the dispatcher without another thread in between. Only one thread
  // polls at a time (poll_mu_); the keeper, if it is serving the consumer, is woken
  // and steps aside.
  absl::StatusOr<std::vector<core_internal::Delivery>> Fetch(std::size_t max_messages,
                                                             std::size_t max_bytes,
                                                             absl::Duration wait) override {
    const auto deadline = Clock::now() + absl::ToChronoNanoseconds(wait);
    fetch_wanted_.fetch_add(1, std::memory_order_acq_rel);
    if (!poll_mu_.TryLock()) {
      if (rk_) rd_kafka_queue_yield(queue_.get());
      poll_mu_.Lock();
    }
    fetch_wanted_.fetch_sub(1, std::memory_order_acq_rel);
    auto out = FetchLocked(max_messages, max_bytes, deadline);
    last_fetch_end_.store(NowNanos(), std::memory_order_release);
    poll_mu_.Unlock();
    return out;
  }

  absl::Status Ack(const std::vector<std::string>& tokens) override {
    assignment_.Ack(tokens);
    return absl::OkStatus();
  }

  absl::Status Release(const std::vector<std::string>& tokens) override {
    assignment_.Release(tokens);
    return absl::OkStatus();
  }

  void Interrupt() override {
    interrupted_.store(true, std::memory_order_release);
    assignment_.Interrupt();                      // a revoke waiting for handlers stops waiting
    if (rk_) rd_kafka_queue_yield(queue_.get());  // wakes a Fetch blocked in the poll
  }

  void SetWithdrawer(const Withdrawer& withdraw) override { assignment_.SetWithdrawer(withdraw); }

  absl::Status ExtendLeases(const std::vector<std::string>&, absl::Duration) override {
    return absl::OkStatus();
  }
  bool needs_lease_extension() const override { return false; }

  // Leaves the group, then destroys the client, each within kCloseBudget. It first
  // unsubscribes and gives its partitions back (serving the revoke callback), so
  // rd_kafka_consumer_close has nothing left to assign (librdkafka#4527, #4884).
  void Close() override {
    if (closed_.exchange(true, std::memory_order_acq_rel)) return;
    Interrupt();
    {
      MutexLock lock(&keeper_mu_);
      stop_ = true;
    }
    keeper_cv_.SignalAll();
    if (keeper_.joinable()) keeper_.join();
    if (!rk_) return;
    MutexLock poll(&poll_mu_);  // a Fetch still polling finishes first
    DestroyDoomed();            // librdkafka's handle outlives none of its messages
    Commit(/*sync=*/true);
    const auto deadline = Clock::now() + kCloseBudget;
    spdlog::logger* logger = config_.options.logger.get();
    leaving_.store(true, std::memory_order_release);
    const bool closed = LeaveGroup(rk_.get(), deadline, subscription_, logger) &&
                        CloseConsumer(rk_.get(), deadline, subscription_, logger);
    queue_.reset();
    opaque_->owner = nullptr;  // no callback of ours from here on
    DestroyConsumer(std::move(rk_), closed, opaque_, kCloseBudget, subscription_,
                    config_.options.logger);
  }

 private:
  absl::StatusOr<std::vector<core_internal::Delivery>> FetchLocked(std::size_t max_messages,
                                                                   std::size_t max_bytes,
                                                                   Clock::time_point deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(poll_mu_) {
    std::vector<core_internal::Delivery> out;
    if (closed_.load(std::memory_order_acquire)) return out;
    SetPaused(false);
    if (assignment_.TakeStash(max_messages, max_bytes, &out)) return out;
    std::vector<rd_kafka_message_t*> batch;
    while (!interrupted_.load(std::memory_order_acquire)) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (PollBatch(static_cast<int>(std::max<std::int64_t>(left, 0)), max_messages, &batch)) {
        Admit(batch, max_bytes, &out);
        if (!out.empty() || Failed()) break;
      }
      // Nothing (or nothing to hand out; or a stale yield woke us early).
      if (Clock::now() >= deadline) break;
    }
    if (out.empty()) {
      if (absl::Status error = assignment_.error(); !error.ok()) return error;
    }
    return out;
  }

  void Log(spdlog::level::level_enum level, const std::string& msg) const {
    if (config_.options.logger) config_.options.logger->log(level, "{}", msg);
  }

  static std::int64_t NowNanos() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
  }

  // The keeper: commits what was acked (every 50 ms), applies seeks, and serves
  // the consumer while the dispatcher is not fetching (it is full, or a Pull caller
  // is away). After kStall without a Fetch it pauses the assigned partitions and
  // polls, so rebalances are served and max.poll.interval.ms is kept, without
  // taking messages: librdkafka drops what it prefetched for a paused partition and
  // fetches again from the last polled offset on resume. Nothing is buffered beyond
  // librdkafka's own bounded prefetch and what a poll returns before a pause takes
  // effect (the stash).
  void KeeperLoop() {
    auto last_commit = Clock::now();
    for (;;) {
      {
        MutexLock lock(&keeper_mu_);
        const absl::Time wake = absl::Now() + absl::FromChrono(last_commit - Clock::now() +
                                                               std::chrono::milliseconds(50));
        while (!stop_ && doomed_.empty()) {
          if (keeper_cv_.WaitWithDeadline(&keeper_mu_, wake)) break;
        }
        if (stop_) return;
      }
      DestroyDoomed();
      ApplySeeks();
      if (Clock::now() - last_commit >= std::chrono::milliseconds(50)) {
        Commit(/*sync=*/false);
        last_commit = Clock::now();
      }
      if (fetch_wanted_.load(std::memory_order_acquire) > 0) continue;
      const auto idle =
          std::chrono::nanoseconds(NowNanos() - last_fetch_end_.load(std::memory_order_acquire));
      if (idle < kStall) continue;
      if (!poll_mu_.TryLock()) continue;
      if (fetch_wanted_.load(std::memory_order_acquire) == 0) ServeStalled();
      poll_mu_.Unlock();
    }
  }

  void ServeStalled() ABSL_EXCLUSIVE_LOCKS_REQUIRED(poll_mu_) {
    SetPaused(true);
    // Fetched before the pause took effect: kept for the next Fetch, with whatever
    // else librdkafka had queued (one call; it would otherwise wait for the next
    // ServeStalled, 50 ms on). The assignment is paused again, in case a partition
    // escaped the pause: the stash must not grow on every round while stalled.
    if (std::vector<rd_kafka_message_t*> batch; PollBatch(100, kBatch, &batch)) {
      Admit(batch, 0, nullptr);
      PauseAssignment(rk_.get(), /*pause=*/true, subscription_, config_.options.logger.get());
    }
  }

  // Polls one message for up to `timeout_ms`, then takes what else is queued in one
  // call (one queue lock, not one per message): at most `max_messages` (1..kBatch)
  // into `batch`. False when none came.
  bool PollBatch(int timeout_ms, std::size_t max_messages, std::vector<rd_kafka_message_t*>* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(poll_mu_) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), timeout_ms);
    if (m == nullptr) return false;
    const std::size_t n = std::clamp<std::size_t>(max_messages, 1, kBatch);
    batch->resize(n);
    (*batch)[0] = m;
    const ssize_t more =
        n > 1 ? rd_kafka_consume_batch_queue(queue_.get(), 0, batch->data() + 1, n - 1) : 0;
    batch->resize(1 + static_cast<std::size_t>(std::max<ssize_t>(more, 0)));
    return true;
  }

  // Converts a polled batch. Messages the ledger wants handed out go to `out` (up
  // to about `max_bytes`) or, past that or when `out` is null, to the stash for the
  // next Fetch (Assignment::Admit).
  void Admit(std::vector<rd_kafka_message_t*>& batch, std::size_t max_bytes,
             std::vector<core_internal::Delivery>* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(poll_mu_) {
    // Converted straight into place (outside assignment_'s lock), then filtered in place.
    std::vector<core_internal::Delivery> local;
    std::vector<core_internal::Delivery>& dst = out != nullptr ? *out : local;
    const std::size_t first = dst.size();
    dst.reserve(first + batch.size());
    positions_.clear();
    for (const rd_kafka_message_t* m : batch) {
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        OnConsumeError(m);
        continue;
      }
      Message& message = dst.emplace_back().message;
      ToMessage(m, &message);
      positions_.push_back({m->partition, m->offset, message.ByteSize()});
    }
    Discard(batch);
    assignment_.Admit(dst, first, positions_, max_bytes, /*keep=*/out != nullptr);
  }

  // Hands converted librdkafka messages to the keeper to destroy. Destroying one
  // costs about as much as polling it (it frees what librdkafka's broker thread
  // allocated); off the fetching thread, it overlaps the dispatcher's work.
  void Discard(std::vector<rd_kafka_message_t*>& batch) {
    if (batch.empty()) return;
    {
      MutexLock lock(&keeper_mu_);
      doomed_.insert(doomed_.end(), batch.begin(), batch.end());
    }
    keeper_cv_.Signal();
    batch.clear();
  }

  void DestroyDoomed() {
    std::vector<rd_kafka_message_t*> doomed;
    {
      MutexLock lock(&keeper_mu_);
      doomed.swap(doomed_);
    }
    for (rd_kafka_message_t* m : doomed) rd_kafka_message_destroy(m);
  }

  void OnConsumeError(const rd_kafka_message_t* m) {
    absl::Status s =
        ConsumeErrorStatus(m, topic_, subscription_, config_, config_.options.logger.get());
    if (!s.ok()) assignment_.SetError(std::move(s));
  }

  bool Failed() { return !assignment_.error().ok(); }

  // Pauses (or resumes) the whole assignment.
  void SetPaused(bool pause) ABSL_EXCLUSIVE_LOCKS_REQUIRED(poll_mu_) {
    if (assignment_.SetPaused(pause)) {
      PauseAssignment(rk_.get(), pause, subscription_, config_.options.logger.get());
    }
  }

  void ApplySeeks() {
    std::vector<AssignmentLedger::Seek> seeks = assignment_.TakeSeeks();
    if (seeks.empty()) return;
    PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(seeks.size())));
    for (const auto& s : seeks) {
      rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), s.partition)->offset = s.offset;
    }
    if (ErrorPtr e{rd_kafka_seek_partitions(rk_.get(), list.get(), 5000)}) {
      Log(spdlog::level::warn, absl::StrCat("seek back for released messages of '", subscription_,
                                            "' failed: ", rd_kafka_error_string(e.get())));
    }
  }

  void Commit(bool sync) {
    std::vector<AssignmentLedger::Commit> commits = assignment_.TakeCommits(/*all=*/sync);
    if (!commits.empty()) CommitList(CommitListOf(topic_, commits).get(), sync);
  }

  bool CommitList(rd_kafka_topic_partition_list_t* list, bool sync) {
    return SendCommit(rk_.get(), list, sync, subscription_, config_.options.logger.get());
  }

  // A failed async commit (e.g. during a rebalance) is sent again by the next one.
  static void OnCommitted(rd_kafka_t*, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* offsets, void* opaque) {
    auto* self = static_cast<KafkaSource*>(static_cast<ClientOpaque*>(opaque)->owner);
    if (offsets == nullptr || self == nullptr) return;
    for (int i = 0; i < offsets->cnt; ++i) {
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR || offsets->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
        self->assignment_.CommitFailed(offsets->elems[i].partition);
    }
  }

  // Updates the ledger, then answers librdkafka (AnswerRebalance). Partitions
  // assigned are paused when the keeper holds the rest paused (before anything is
  // fetched for them; the next Fetch resumes them all), else resumed: a pause from
  // before a revoke would otherwise outlive it, with nobody to lift it. While Close
  // leaves the group an assignment is taken (librdkafka waits for the call) but not
  // read from.
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto* self = static_cast<KafkaSource*>(static_cast<ClientOpaque*>(opaque)->owner);
    const bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    if (self != nullptr) {
      if (assign && !self->leaving_.load(std::memory_order_acquire)) {
        self->OnAssign(partitions);
      } else if (!assign) {
        self->OnRevoke(partitions, rd_kafka_assignment_lost(rk) != 0);
      }
    }
    AnswerRebalance(rk, assign, partitions, self != nullptr ? self->subscription_ : "",
                    self != nullptr ? self->config_.options.logger.get() : nullptr);
    if (self != nullptr && assign) {
      // librdkafka keeps a partition's pause from before its revoke (librdkafka#1849).
      PausePartitions(rk, partitions, self->assignment_.paused(), self->subscription_,
                      self->config_.options.logger.get());
    }
  }

  // Starts each new partition from the group's committed offset and the acks
  // recorded above it (AssignmentLedger::Assign), reading right after what is
  // settled.
  void OnAssign(rd_kafka_topic_partition_list_t* partitions) {
    std::string error;
    std::vector<CommittedPosition> read =
        ReadCommitted(rk_.get(), partitions, config_.options.connect_timeout, &error);
    if (!error.empty()) {
      Log(spdlog::level::warn, absl::StrCat("reading committed offsets of '", subscription_,
                                            "' failed: ", error, "; using the group's defaults"));
    }
    std::vector<Assignment::Committed> committed;
    committed.reserve(read.size());
    for (int i = 0; i < partitions->cnt; ++i) {
      CommittedPosition& c = read[static_cast<std::size_t>(i)];
      committed.push_back({partitions->elems[i].partition, c.offset, std::move(c.acked)});
    }
    Assignment::Assigned assigned = assignment_.Assign(std::move(committed), topic_, subscription_);
    for (int i = 0; i < partitions->cnt; ++i) {
      const std::int64_t start = assigned.starts[static_cast<std::size_t>(i)];
      partitions->elems[i].offset = start >= 0 ? start : RD_KAFKA_OFFSET_INVALID;
    }
    for (const auto& n : assigned.notes) Log(spdlog::level::info, n);
  }

  // Gives partitions back (Assignment::Revoke): unless they are lost (another
  // member may own them already) or the subscriber is stopping, waits for what
  // handlers hold, up to shutdown_timeout (capped at half max.poll.interval.ms): the
  // handlers keep running and their acks count, so an orderly rebalance redelivers
  // nothing (DESIGN.md 3.1), and waits only as long as the handlers running take.
  // Without the wait, an ack arriving after the revoke would find its token stale and
  // the next owner would deliver the message again. Then commits what was settled;
  // a partition whose commit is not confirmed stays in the ledger until its next
  // assignment.
  void OnRevoke(rd_kafka_topic_partition_list_t* partitions, bool lost) {
    std::vector<std::int32_t> revoked;
    revoked.reserve(static_cast<std::size_t>(partitions->cnt));
    for (int i = 0; i < partitions->cnt; ++i) revoked.push_back(partitions->elems[i].partition);
    const bool wait = !lost && !leaving_.load(std::memory_order_acquire);
    Assignment::Revoked r = assignment_.Revoke(revoked, lost, wait, revoke_wait_);
    if (!r.waited.empty()) {
      Log(spdlog::level::debug, absl::StrCat("revoke of ", partitions->cnt, " partition(s) of '",
                                             subscription_, "': ", r.waited));
    }
    if (r.unsettled > 0) {
      Log(spdlog::level::warn,
          absl::StrCat(r.unsettled, " message(s) of partitions of '", subscription_,
                       "' given back in a rebalance were still unsettled after ",
                       absl::FormatDuration(revoke_wait_), "; they will be delivered again"));
    }
    if (r.commits.empty()) return;
    PartitionListPtr list = CommitListOf(topic_, r.commits);
    const bool ok = CommitList(list.get(), /*sync=*/true);
    for (int i = 0; ok && i < list->cnt; ++i) {
      if (list->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        assignment_.Confirmed(list->elems[i].partition);
    }
  }

  // How long a revoke waits for the messages handed out from its partitions:
  // shutdown_timeout, but at most half of max.poll.interval.ms (librdkafka's
  // rebalance timeout, within which the group waits for us to rejoin).
  static absl::Duration RevokeWait(const ClientConfig& config, const SubscriberOptions& options) {
    absl::Duration wait = options.shutdown_timeout;
    std::int64_t max_poll_ms = 300000;  // librdkafka's default
    if (auto it = config.properties.find("max.poll.interval.ms"); it != config.properties.end()) {
      if (!absl::SimpleAtoi(it->second, &max_poll_ms)) max_poll_ms = 300000;
    }
    return std::min(wait, absl::Milliseconds(max_poll_ms) / 2);
  }

  static constexpr std::size_t kBatch = 1000;
  // How long the dispatcher may go without fetching before the keeper pauses the
  // partitions and serves the consumer itself.
  static constexpr std::chrono::seconds kStall{1};
  // How long Close waits for the group to be left, and again for librdkafka's shutdown.
  static constexpr std::chrono::seconds kCloseBudget{10};

  const ClientConfig config_;
  const std::string subscription_;
  const std::string topic_;
  const SubscriberOptions options_;
  // Shared with the thread that destroys rk_ (DestroyClient), which may outlive us.
  const std::shared_ptr<ClientOpaque> opaque_ = std::make_shared<ClientOpaque>();
  RdKafkaPtr rk_;
  QueuePtr queue_;  // rk_'s consumer queue

  core_internal::Mutex poll_mu_;  // held by whoever polls the consumer: a Fetch or the keeper
  std::vector<Assignment::Position> positions_ ABSL_GUARDED_BY(poll_mu_);  // Admit's scratch
  std::atomic<int> fetch_wanted_{0};             // Fetch calls waiting for poll_mu_
  std::atomic<std::int64_t> last_fetch_end_{0};  // steady-clock ns
  std::atomic<bool> interrupted_{false}, closed_{false};
  std::atomic<bool> leaving_{false};  // Close is leaving the group: assignments are not read

  std::thread keeper_;
  core_internal::Mutex keeper_mu_;
  core_internal::CondVar keeper_cv_;
  bool stop_ ABSL_GUARDED_BY(keeper_mu_) = false;
  std::vector<rd_kafka_message_t*> doomed_ ABSL_GUARDED_BY(keeper_mu_);  // converted, to destroy

  const absl::Duration revoke_wait_ = RevokeWait(config_, options_);

  Assignment assignment_;  // the ledger, the stash, the revoke's wait; its own lock
};

}  // namespace

absl::StatusOr<std::shared_ptr<core_internal::SubscriptionSource>> MakeKafkaSource(
    const ClientConfig& config, const std::string& subscription, const std::string& topic,
    const SubscriberOptions& options) {
  auto source = std::make_shared<KafkaSource>(config, subscription, topic, options);
  if (auto s = source->Start(); !s.ok()) return s;
  return source;
}

}  // namespace unibus::kafka_internal
