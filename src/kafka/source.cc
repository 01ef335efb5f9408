#include "kafka/source.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/thread_name.h"
#include "kafka/offset_tracker.h"
#include "kafka/record.h"
#include "spdlog/logger.h"

namespace unibus::kafka_internal {
namespace {

using Clock = std::chrono::steady_clock;

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
    opaque_.logger = config_.options.logger.get();
    opaque_.owner = this;
    const std::map<std::string, std::string> defaults = {
        {"auto.offset.reset", options_.start == StartPosition::kEarliest ? "earliest" : "latest"},
        {"client.id", "unibus-subscriber"},
    };
    // The backend's correctness depends on these: offsets move only by our commits.
    const std::map<std::string, std::string> forced = {
        {"group.id", subscription_},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "false"},
    };
    auto conf = MakeConf(config_, defaults, forced, &opaque_);
    if (!conf.ok()) return conf.status();
    rd_kafka_conf_set_rebalance_cb(conf->get(), &KafkaSource::OnRebalance);
    rd_kafka_conf_set_offset_commit_cb(conf->get(), &KafkaSource::OnCommitted);
    auto rk = MakeClient(RD_KAFKA_CONSUMER, *std::move(conf), config_);
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
    std::vector<core_internal::Delivery> out;
    const auto deadline = Clock::now() + absl::ToChronoNanoseconds(wait);
    fetch_wanted_.fetch_add(1, std::memory_order_acq_rel);
    std::unique_lock<std::mutex> poll(poll_mu_, std::try_to_lock);
    if (!poll.owns_lock()) {
      if (rk_) rd_kafka_queue_yield(queue_.get());
      poll.lock();
    }
    fetch_wanted_.fetch_sub(1, std::memory_order_acq_rel);
    struct Done {
      KafkaSource* self;
      ~Done() { self->last_fetch_end_.store(NowNanos(), std::memory_order_release); }
    } done{this};
    if (closed_.load(std::memory_order_acquire)) return out;
    ResumeIfPaused();
    if (TakeStash(max_messages, max_bytes, &out)) return out;
    std::vector<rd_kafka_message_t*> batch;
    while (!interrupted_.load(std::memory_order_acquire)) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      rd_kafka_message_t* m =
          rd_kafka_consumer_poll(rk_.get(), static_cast<int>(std::max<std::int64_t>(left, 0)));
      if (m != nullptr) {
        // The rest of what is queued, in one call (one queue lock, not one per message).
        const std::size_t n = std::clamp<std::size_t>(max_messages, 1, kBatch);
        batch.resize(n);
        batch[0] = m;
        const ssize_t more =
            n > 1 ? rd_kafka_consume_batch_queue(queue_.get(), 0, batch.data() + 1, n - 1) : 0;
        batch.resize(1 + static_cast<std::size_t>(std::max<ssize_t>(more, 0)));
        Admit(batch, max_bytes, &out);
        if (!out.empty() || Failed()) break;
      }
      // Nothing (or nothing to hand out; or a stale yield woke us early).
      if (Clock::now() >= deadline) break;
    }
    if (out.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_.ok()) return error_;
    }
    return out;
  }

  absl::Status Ack(const std::vector<std::string>& tokens) override {
    ForEachCurrent(tokens, [](Partition& part, std::int64_t offset) {
      part.tracker.Ack(offset);
      part.dirty = true;
    });
    return absl::OkStatus();
  }

  absl::Status Release(const std::vector<std::string>& tokens) override {
    ForEachCurrent(tokens, [this](Partition& part, std::int64_t offset) {
      if (part.tracker.Release(offset)) {
        part.seek_to = part.seek_to < 0 ? offset : std::min(part.seek_to, offset);
        seeks_pending_ = true;
      }
    });
    return absl::OkStatus();
  }

  void Interrupt() override {
    interrupted_.store(true, std::memory_order_release);
    if (rk_) rd_kafka_queue_yield(queue_.get());  // wakes a Fetch blocked in the poll
  }

  absl::Status ExtendLeases(const std::vector<std::string>&, absl::Duration) override {
    return absl::OkStatus();
  }
  bool needs_lease_extension() const override { return false; }

  void Close() override {
    if (closed_.exchange(true, std::memory_order_acq_rel)) return;
    Interrupt();
    {
      std::lock_guard<std::mutex> lock(keeper_mu_);
      stop_ = true;
    }
    keeper_cv_.notify_all();
    if (keeper_.joinable()) keeper_.join();
    if (!rk_) return;
    std::lock_guard<std::mutex> poll(poll_mu_);  // a Fetch still polling finishes first
    DestroyDoomed();  // librdkafka's handle outlives none of its messages
    Commit(/*sync=*/true);
    // Leaves the group; the revoke callback (on this thread) commits once more.
    if (auto err = rd_kafka_consumer_close(rk_.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Log(spdlog::level::warn,
          absl::StrCat("closing consumer of '", subscription_, "': ", rd_kafka_err2str(err)));
    }
    queue_.reset();
    rk_.reset();
  }

 private:
  struct Partition {
    std::uint64_t epoch = 0;
    OffsetTracker tracker;
    bool dirty = false;
    std::int64_t seek_to = -1;  // released offset to read again from
    std::int64_t committed = -2;
    std::string committed_meta;
  };
  struct Position {
    std::int32_t partition;
    std::int64_t offset;
    std::size_t bytes;
  };
  struct Buffered {
    core_internal::Delivery delivery;
    std::int32_t partition;
    std::int64_t offset;
    std::size_t bytes;
  };

  // Calls f(partition, offset) under mu_ for each token of the current assignment;
  // tokens of partitions revoked since they were handed out are skipped.
  template <typename F>
  void ForEachCurrent(const std::vector<std::string>& tokens, F f) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& t : tokens) {
      std::int32_t p;
      std::int64_t offset;
      std::uint64_t epoch;
      if (!ParseToken(t, &p, &offset, &epoch)) continue;
      auto it = parts_.find(p);
      if (it == parts_.end() || !SameEpoch(it->second.epoch, epoch)) continue;
      f(it->second, offset);
    }
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
  // librdkafka's own bounded prefetch.
  void KeeperLoop() {
    auto last_commit = Clock::now();
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(keeper_mu_);
        keeper_cv_.wait_until(lock, last_commit + std::chrono::milliseconds(50),
                              [&] { return stop_ || !doomed_.empty(); });
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
      std::unique_lock<std::mutex> poll(poll_mu_, std::try_to_lock);
      if (!poll.owns_lock() || fetch_wanted_.load(std::memory_order_acquire) > 0) continue;
      PauseIfRunning();
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), 100)) {
        // Fetched before the pause took effect, or from a partition assigned
        // since: keep it for the next Fetch and pause again.
        std::vector<rd_kafka_message_t*> batch{m};
        Admit(batch, 0, nullptr);
        std::lock_guard<std::mutex> lock(mu_);
        paused_ = false;
      }
    }
  }

  // Converts a polled batch. Messages the trackers want handed out go to `out`
  // (up to about `max_bytes`) or, past that or when `out` is null, to stash_ for
  // the next Fetch.
  void Admit(std::vector<rd_kafka_message_t*>& batch, std::size_t max_bytes,
             std::vector<core_internal::Delivery>* out) {
    // Converted straight into place (outside mu_), then filtered in place.
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
    std::size_t kept = first, bytes = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (std::size_t i = first; i < dst.size(); ++i) {
        const Position& pos = positions_[i - first];
        auto it = parts_.find(pos.partition);
        if (it == parts_.end()) continue;  // revoked meanwhile
        if (!it->second.tracker.Deliver(pos.offset))
          continue;  // re-read after a seek: settled or in flight
        dst[i].token = TokenOf(pos.partition, pos.offset, it->second.epoch);
        if (out != nullptr && stash_.empty() && (kept == first || bytes + pos.bytes <= max_bytes)) {
          bytes += pos.bytes;
          if (kept != i) dst[kept] = std::move(dst[i]);
          ++kept;
        } else {
          stash_.push_back(Buffered{std::move(dst[i]), pos.partition, pos.offset, pos.bytes});
        }
      }
    }
    dst.resize(kept);
  }

  // Hands converted librdkafka messages to the keeper to destroy. Destroying one
  // costs about as much as polling it (it frees what librdkafka's broker thread
  // allocated); off the fetching thread, it overlaps the dispatcher's work.
  void Discard(std::vector<rd_kafka_message_t*>& batch) {
    if (batch.empty()) return;
    {
      std::lock_guard<std::mutex> lock(keeper_mu_);
      doomed_.insert(doomed_.end(), batch.begin(), batch.end());
    }
    keeper_cv_.notify_one();
    batch.clear();
  }

  void DestroyDoomed() {
    std::vector<rd_kafka_message_t*> doomed;
    {
      std::lock_guard<std::mutex> lock(keeper_mu_);
      doomed.swap(doomed_);
    }
    for (rd_kafka_message_t* m : doomed) rd_kafka_message_destroy(m);
  }

  // Moves stashed messages to `out` (within the limits); true if there were any.
  bool TakeStash(std::size_t max_messages, std::size_t max_bytes,
                 std::vector<core_internal::Delivery>* out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stash_.empty()) return false;
    std::size_t bytes = 0;
    while (!stash_.empty() && out->size() < max_messages &&
           (out->empty() || bytes + stash_.front().bytes <= max_bytes)) {
      bytes += stash_.front().bytes;
      out->push_back(std::move(stash_.front().delivery));
      stash_.pop_front();
    }
    return true;
  }

  void OnConsumeError(const rd_kafka_message_t* m) {
    const rd_kafka_resp_err_t err = m->err;
    if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
    const std::string what = rd_kafka_message_errstr(m);
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ =
          absl::NotFoundError(absl::StrCat("topic '", topic_, "' of subscription '", subscription_,
                                           "' does not exist on ", config_.url, ": ", what));
    } else if (err == RD_KAFKA_RESP_ERR__FATAL ||
               CodeOf(err) == absl::StatusCode::kUnauthenticated ||
               CodeOf(err) == absl::StatusCode::kPermissionDenied) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = ToStatus(
          err, absl::StrCat("consume '", subscription_, "' from ", config_.url, " (", what, ")"));
    } else {
      // Transport and leadership errors: librdkafka recovers by itself.
      Log(spdlog::level::warn, absl::StrCat("consumer of '", subscription_, "': ", what));
    }
  }

  bool Failed() {
    std::lock_guard<std::mutex> lock(mu_);
    return !error_.ok();
  }

  // Pauses (or resumes) the whole assignment. Called with poll_mu_ held.
  void PauseIfRunning() { SetPaused(true); }
  void ResumeIfPaused() { SetPaused(false); }
  void SetPaused(bool pause) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (paused_ == pause) return;
      paused_ = pause;
    }
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    if (rd_kafka_assignment(rk_.get(), &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    PartitionListPtr owned(assigned);
    if (pause) {
      rd_kafka_pause_partitions(rk_.get(), assigned);
    } else {
      rd_kafka_resume_partitions(rk_.get(), assigned);
    }
  }

  void ApplySeeks() {
    PartitionListPtr list;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!seeks_pending_) return;
      seeks_pending_ = false;
      list.reset(rd_kafka_topic_partition_list_new(1));
      for (auto& [p, part] : parts_) {
        if (part.seek_to < 0) continue;
        rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p)->offset = part.seek_to;
        part.seek_to = -1;
      }
    }
    if (list->cnt == 0) return;
    if (rd_kafka_error_t* e = rd_kafka_seek_partitions(rk_.get(), list.get(), 5000)) {
      Log(spdlog::level::warn, absl::StrCat("seek back for released messages of '", subscription_,
                                            "' failed: ", rd_kafka_error_string(e)));
      rd_kafka_error_destroy(e);
    }
  }

  // Adds `part`'s commit position (with the acks above it as metadata) to `list`
  // when it changed since the last commit, or always when `force` (an async commit
  // may have failed, e.g. during a rebalance, so the final ones must not trust the
  // record of what was sent). Requires mu_.
  void AddCommitLocked(rd_kafka_topic_partition_list_t* list, std::int32_t p, Partition& part,
                       bool force) {
    part.dirty = false;
    const std::int64_t offset = part.tracker.committable();
    if (offset < 0) return;
    std::string meta = part.tracker.EncodeAcked();
    if (!force && offset == part.committed && meta == part.committed_meta) return;
    rd_kafka_topic_partition_t* tp = rd_kafka_topic_partition_list_add(list, topic_.c_str(), p);
    tp->offset = offset;
    if (!meta.empty()) {
      // librdkafka frees the metadata with the list.
      tp->metadata = std::malloc(meta.size());
      std::memcpy(tp->metadata, meta.data(), meta.size());
      tp->metadata_size = meta.size();
    }
    part.committed = offset;
    part.committed_meta = std::move(meta);
  }

  void Commit(bool sync) {
    PartitionListPtr list(rd_kafka_topic_partition_list_new(4));
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [p, part] : parts_) {
        if (part.dirty || sync) AddCommitLocked(list.get(), p, part, /*force=*/sync);
      }
    }
    CommitList(list.get(), sync);
  }

  // Returns true when every partition in `list` was committed (sync) or the
  // commit was sent (async).
  bool CommitList(rd_kafka_topic_partition_list_t* list, bool sync) {
    if (list->cnt == 0) return true;
    rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), list, sync ? 0 : 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      Log(spdlog::level::warn,
          absl::StrCat("commit for '", subscription_, "' failed: ", rd_kafka_err2str(err),
                       "; settled messages past the last commit may be redelivered"));
      return false;
    }
    return true;
  }

  // A failed async commit (e.g. during a rebalance) is sent again by the next one.
  static void OnCommitted(rd_kafka_t*, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* offsets, void* opaque) {
    auto* self = static_cast<KafkaSource*>(static_cast<ClientOpaque*>(opaque)->owner);
    if (offsets == nullptr) return;
    std::lock_guard<std::mutex> lock(self->mu_);
    for (int i = 0; i < offsets->cnt; ++i) {
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR && offsets->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        continue;
      auto it = self->parts_.find(offsets->elems[i].partition);
      if (it == self->parts_.end()) continue;
      it->second.committed = -2;
      it->second.dirty = true;
    }
  }

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto* self = static_cast<KafkaSource*>(static_cast<ClientOpaque*>(opaque)->owner);
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      self->OnAssign(partitions);
      rd_kafka_error_t* e = nullptr;
      if (cooperative) {
        e = rd_kafka_incremental_assign(rk, partitions);
      } else {
        rd_kafka_assign(rk, partitions);
      }
      if (e != nullptr) rd_kafka_error_destroy(e);
    } else {
      self->OnRevoke(partitions, rd_kafka_assignment_lost(rk) != 0);
      rd_kafka_error_t* e = nullptr;
      if (cooperative) {
        e = rd_kafka_incremental_unassign(rk, partitions);
      } else {
        rd_kafka_assign(rk, nullptr);
      }
      if (e != nullptr) rd_kafka_error_destroy(e);
    }
  }

  // Starts a tracker per new partition from the group's committed offset and the
  // acks recorded above it, and starts reading right after what is settled. A
  // partition that comes back to this consumer before the commit of its revoke was
  // confirmed (a commit fails while the group rebalances) continues from this
  // consumer's own record instead, so what it acked is not delivered again.
  void OnAssign(rd_kafka_topic_partition_list_t* partitions) {
    PartitionListPtr committed(rd_kafka_topic_partition_list_copy(partitions));
    const int timeout_ms =
        static_cast<int>(absl::ToInt64Milliseconds(config_.options.connect_timeout));
    rd_kafka_resp_err_t err = rd_kafka_committed(rk_.get(), committed.get(), timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Log(spdlog::level::warn,
          absl::StrCat("reading committed offsets of '", subscription_,
                       "' failed: ", rd_kafka_err2str(err), "; using the group's defaults"));
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; i < partitions->cnt; ++i) {
      rd_kafka_topic_partition_t& tp = partitions->elems[i];
      std::int64_t offset = -1;
      std::set<std::int64_t> acked;
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const rd_kafka_topic_partition_t& c = committed->elems[i];
        if (c.err == RD_KAFKA_RESP_ERR_NO_ERROR && c.offset >= 0) {
          offset = c.offset;
          if (c.metadata != nullptr && c.metadata_size > 0) {
            acked = OffsetTracker::DecodeAcked(
                std::string(static_cast<const char*>(c.metadata), c.metadata_size), offset);
          }
        }
      }
      Partition part;
      auto own = unconfirmed_.find(tp.partition);
      const std::int64_t own_position =
          own == unconfirmed_.end() ? -1 : own->second.tracker.committable();
      if (own_position >= 0 && offset <= own_position) {
        part = std::move(own->second);
        part.tracker.ReleaseAll();  // in flight under the old assignment: hand out again
        part.dirty = true;          // commit our position under this assignment
        part.seek_to = -1;
        Log(spdlog::level::info,
            absl::StrCat("partition ", tp.partition, " of '", topic_, "' came back to '",
                         subscription_, "' before its commit was confirmed; continuing at offset ",
                         own_position, " (the group had ", offset, ")"));
      } else {
        part.tracker = OffsetTracker(offset, std::move(acked));
      }
      if (own != unconfirmed_.end()) unconfirmed_.erase(own);
      part.epoch = ++next_epoch_;
      part.committed = offset;
      const std::int64_t start = part.tracker.committable();
      tp.offset = start >= 0 ? start : RD_KAFKA_OFFSET_INVALID;
      parts_[tp.partition] = std::move(part);
    }
    paused_ = false;  // a fresh assignment is not paused (the keeper pauses it again)
  }

  // Commits what was settled on the revoked partitions and stops delivering them:
  // their in-flight tokens become stale, their buffered messages are dropped (the
  // next owner reads them from the commit). A partition whose commit is not
  // confirmed is remembered until its next assignment (see OnAssign).
  void OnRevoke(rd_kafka_topic_partition_list_t* partitions, bool lost) {
    PartitionListPtr commit(rd_kafka_topic_partition_list_new(partitions->cnt));
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < partitions->cnt; ++i) {
        const std::int32_t p = partitions->elems[i].partition;
        auto it = parts_.find(p);
        if (it == parts_.end()) continue;
        if (!lost) AddCommitLocked(commit.get(), p, it->second, /*force=*/true);
        unconfirmed_[p] = std::move(it->second);
        parts_.erase(it);
      }
      for (auto it = stash_.begin(); it != stash_.end();) {
        it = parts_.count(it->partition) ? std::next(it) : stash_.erase(it);
      }
    }
    const bool ok = CommitList(commit.get(), /*sync=*/true);
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; ok && i < commit->cnt; ++i) {
      if (commit->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        unconfirmed_.erase(commit->elems[i].partition);
    }
  }

  static constexpr std::size_t kBatch = 1000;
  // How long the dispatcher may go without fetching before the keeper pauses the
  // partitions and serves the consumer itself.
  static constexpr std::chrono::seconds kStall{1};

  const ClientConfig config_;
  const std::string subscription_;
  const std::string topic_;
  const SubscriberOptions options_;
  ClientOpaque opaque_;
  RdKafkaPtr rk_;
  QueuePtr queue_;  // rk_'s consumer queue

  std::mutex poll_mu_;                // held by whoever polls the consumer: a Fetch or the keeper
  std::vector<Position> positions_;   // guarded by poll_mu_: Admit's scratch
  std::atomic<int> fetch_wanted_{0};  // Fetch calls waiting for poll_mu_
  std::atomic<std::int64_t> last_fetch_end_{0};  // steady-clock ns
  std::atomic<bool> interrupted_{false}, closed_{false};

  std::thread keeper_;
  std::mutex keeper_mu_;
  std::condition_variable keeper_cv_;
  bool stop_ = false;                        // guarded by keeper_mu_
  std::vector<rd_kafka_message_t*> doomed_;  // guarded by keeper_mu_: converted, to destroy

  std::mutex mu_;
  std::deque<Buffered> stash_;                     // guarded by mu_: polled, not yet fetched
  std::map<std::int32_t, Partition> parts_;        // guarded by mu_: the current assignment
  std::map<std::int32_t, Partition> unconfirmed_;  // guarded by mu_: revoked, commit not confirmed
  std::uint64_t next_epoch_ = 0;                   // guarded by mu_
  bool paused_ = false;                            // guarded by mu_
  bool seeks_pending_ = false;                     // guarded by mu_
  absl::Status error_;                             // guarded by mu_: a terminal consume error
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
