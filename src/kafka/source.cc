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

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/thread_name.h"
#include "kafka/offset_tracker.h"
#include "spdlog/logger.h"

namespace unibus::kafka_internal {
namespace {

using Clock = std::chrono::steady_clock;

// A delivery token: partition (4 bytes), offset (8) and the assignment epoch (low
// 3 bytes; it tells a token from an earlier assignment of the partition), packed
// into 15 bytes so that it fits std::string's inline buffer: no allocation and no
// text parsing per message.
constexpr std::size_t kTokenSize = 15;

std::string TokenOf(std::int32_t partition, std::int64_t offset, std::uint64_t epoch) {
  char buf[kTokenSize];
  const std::uint32_t e = static_cast<std::uint32_t>(epoch & 0xFFFFFF);
  std::memcpy(buf, &partition, 4);
  std::memcpy(buf + 4, &offset, 8);
  std::memcpy(buf + 12, &e, 3);
  return std::string(buf, kTokenSize);
}

bool ParseToken(const std::string& token, std::int32_t* partition, std::int64_t* offset, std::uint64_t* epoch) {
  if (token.size() != kTokenSize) return false;
  std::uint32_t e = 0;
  std::memcpy(partition, token.data(), 4);
  std::memcpy(offset, token.data() + 4, 8);
  std::memcpy(&e, token.data() + 12, 3);
  *epoch = e;
  return true;
}

// Epochs compare in the token's 24 bits.
bool SameEpoch(std::uint64_t a, std::uint64_t b) { return (a & 0xFFFFFF) == (b & 0xFFFFFF); }

Message ToMessage(const rd_kafka_message_t* m, const std::string& topic) {
  Message out;
  if (m->payload != nullptr) out.data.assign(static_cast<const char*>(m->payload), m->len);
  if (m->key != nullptr) out.ordering_key.assign(static_cast<const char*>(m->key), m->key_len);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers != nullptr) {
    const char* name;
    const void* value;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      out.attributes[name] = value == nullptr ? std::string() : std::string(static_cast<const char*>(value), size);
    }
  }
  rd_kafka_timestamp_type_t ts_type;
  const std::int64_t ts = rd_kafka_message_timestamp(m, &ts_type);
  if (ts >= 0) out.publish_time = absl::FromUnixMillis(ts);
  out.id = MessageIdOf(m->partition, m->offset);
  out.topic = topic;
  out.delivery_attempt = 1;
  return out;
}

class KafkaSource : public core_internal::SubscriptionSource {
 public:
  KafkaSource(ClientConfig config, std::string subscription, std::string topic, SubscriberOptions options)
      : config_(std::move(config)),
        subscription_(std::move(subscription)),
        topic_(std::move(topic)),
        options_(std::move(options)),
        cap_messages_(std::max<std::size_t>(options_.max_outstanding_messages, 1000)),
        cap_bytes_(std::max<std::size_t>(options_.max_outstanding_bytes, 1)) {}

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
    PartitionListPtr topics(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(topics.get(), topic_.c_str(), RD_KAFKA_PARTITION_UA);
    if (auto err = rd_kafka_subscribe(rk_.get(), topics.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return ToStatus(err, absl::StrCat("subscribe '", subscription_, "' to '", topic_, "' on ", config_.url));
    }
    poller_ = std::thread([this] {
      core_internal::NameThisThread("ub-kafka-poll");
      PollLoop();
    });
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<core_internal::Delivery>> Fetch(std::size_t max_messages, std::size_t max_bytes,
                                                             absl::Duration wait) override {
    std::vector<core_internal::Delivery> out;
    std::unique_lock<std::mutex> lock(mu_);
    buffer_cv_.wait_for(lock, absl::ToChronoNanoseconds(wait),
                        [&] { return closed_ || interrupted_ || !buffer_.empty() || !error_.ok(); });
    if (buffer_.empty()) {
      if (!error_.ok()) return error_;
      return out;
    }
    std::size_t bytes = 0;
    while (!buffer_.empty() && out.size() < max_messages && (out.empty() || bytes < max_bytes)) {
      Buffered& b = buffer_.front();
      bytes += b.bytes;
      buffer_bytes_ -= b.bytes;
      out.push_back(std::move(b.delivery));
      buffer_.pop_front();
    }
    room_cv_.notify_one();
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
    {
      std::lock_guard<std::mutex> lock(mu_);
      interrupted_ = true;
    }
    buffer_cv_.notify_all();
  }

  absl::Status ExtendLeases(const std::vector<std::string>&, absl::Duration) override {
    return absl::OkStatus();
  }
  bool needs_lease_extension() const override { return false; }

  void Close() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      closed_ = true;
    }
    stop_ = true;
    buffer_cv_.notify_all();
    // Wakes the poll thread from rd_kafka_consumer_poll at once.
    if (rk_) {
      if (rd_kafka_queue_t* q = rd_kafka_queue_get_consumer(rk_.get())) {
        rd_kafka_queue_yield(q);
        rd_kafka_queue_destroy(q);
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      room_cv_.notify_all();
    }
    if (poller_.joinable()) poller_.join();
    if (!rk_) return;
    Commit(/*sync=*/true);
    // Leaves the group; the revoke callback (on this thread) commits once more.
    if (auto err = rd_kafka_consumer_close(rk_.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Log(spdlog::level::warn, absl::StrCat("closing consumer of '", subscription_, "': ", rd_kafka_err2str(err)));
    }
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

  void PollLoop() {
    std::vector<rd_kafka_message_t*> batch;
    batch.reserve(kBatch);
    auto last_commit = Clock::now();
    while (!stop_.load(std::memory_order_acquire)) {
      FlowControl();
      ApplySeeks();
      if (Clock::now() - last_commit >= std::chrono::milliseconds(50)) {
        Commit(/*sync=*/false);
        last_commit = Clock::now();
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), Paused() ? 20 : 100);
      if (m == nullptr) continue;
      batch.push_back(m);
      while (batch.size() < kBatch && (m = rd_kafka_consumer_poll(rk_.get(), 0)) != nullptr) batch.push_back(m);
      Take(batch);
      batch.clear();
    }
  }

  // Converts a polled batch and buffers the messages the trackers want handed out.
  void Take(std::vector<rd_kafka_message_t*>& batch) {
    std::vector<Buffered> converted;
    converted.reserve(batch.size());
    for (rd_kafka_message_t* raw : batch) {
      MessagePtr m(raw);
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        OnConsumeError(m.get());
        continue;
      }
      Buffered b{{ToMessage(m.get(), topic_), {}}, m->partition, m->offset, 0};
      b.bytes = b.delivery.message.ByteSize();
      converted.push_back(std::move(b));
    }
    if (converted.empty()) return;
    bool added = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& b : converted) {
        auto it = parts_.find(b.partition);
        if (it == parts_.end()) continue;  // revoked meanwhile
        if (!it->second.tracker.Deliver(b.offset)) continue;  // re-read after a seek: settled or in flight
        b.delivery.token = TokenOf(b.partition, b.offset, it->second.epoch);
        buffer_bytes_ += b.bytes;
        buffer_.push_back(std::move(b));
        added = true;
      }
    }
    if (added) buffer_cv_.notify_all();
  }

  void OnConsumeError(const rd_kafka_message_t* m) {
    const rd_kafka_resp_err_t err = m->err;
    if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
    const std::string what = rd_kafka_message_errstr(m);
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = absl::NotFoundError(absl::StrCat("topic '", topic_, "' of subscription '", subscription_,
                                                "' does not exist on ", config_.url, ": ", what));
    } else if (err == RD_KAFKA_RESP_ERR__FATAL || CodeOf(err) == absl::StatusCode::kUnauthenticated ||
               CodeOf(err) == absl::StatusCode::kPermissionDenied) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = ToStatus(err, absl::StrCat("consume '", subscription_, "' from ", config_.url, " (", what, ")"));
    } else {
      // Transport and leadership errors: librdkafka recovers by itself.
      Log(spdlog::level::warn, absl::StrCat("consumer of '", subscription_, "': ", what));
      return;
    }
    buffer_cv_.notify_all();
  }

  // Flow control. While the buffer is full, first wait (up to 1 s) for the
  // dispatcher to take messages: librdkafka's own prefetch queue is bounded and
  // stops fetching by itself. A longer stall pauses the assigned partitions, so the
  // loop can go on polling (serving rebalances, staying within
  // max.poll.interval.ms) without taking messages; they resume below half.
  void FlowControl() {
    bool pause = false, resume = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto full = [&] { return buffer_.size() >= cap_messages_ || buffer_bytes_ >= cap_bytes_; };
      if (full() && !paused_) {
        room_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return !full() || stop_.load(); });
        if (full()) pause = paused_ = true;
      }
      const bool low = buffer_.size() <= cap_messages_ / 2 && buffer_bytes_ <= cap_bytes_ / 2;
      if (low && paused_) {
        resume = true;
        paused_ = false;
      }
    }
    if (!pause && !resume) return;
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    if (rd_kafka_assignment(rk_.get(), &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    PartitionListPtr owned(assigned);
    if (pause) rd_kafka_pause_partitions(rk_.get(), assigned);
    if (resume) rd_kafka_resume_partitions(rk_.get(), assigned);
  }

  bool Paused() {
    std::lock_guard<std::mutex> lock(mu_);
    return paused_;
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
  void AddCommitLocked(rd_kafka_topic_partition_list_t* list, std::int32_t p, Partition& part, bool force) {
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
      Log(spdlog::level::warn, absl::StrCat("commit for '", subscription_, "' failed: ", rd_kafka_err2str(err),
                                            "; settled messages past the last commit may be redelivered"));
      return false;
    }
    return true;
  }

  // A failed async commit (e.g. during a rebalance) is sent again by the next one.
  static void OnCommitted(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                          void* opaque) {
    auto* self = static_cast<KafkaSource*>(static_cast<ClientOpaque*>(opaque)->owner);
    if (offsets == nullptr) return;
    std::lock_guard<std::mutex> lock(self->mu_);
    for (int i = 0; i < offsets->cnt; ++i) {
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR && offsets->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      auto it = self->parts_.find(offsets->elems[i].partition);
      if (it == self->parts_.end()) continue;
      it->second.committed = -2;
      it->second.dirty = true;
    }
  }

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                          void* opaque) {
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
    const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(config_.options.connect_timeout));
    rd_kafka_resp_err_t err = rd_kafka_committed(rk_.get(), committed.get(), timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Log(spdlog::level::warn, absl::StrCat("reading committed offsets of '", subscription_,
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
      const std::int64_t own_position = own == unconfirmed_.end() ? -1 : own->second.tracker.committable();
      if (own_position >= 0 && offset <= own_position) {
        part = std::move(own->second);
        part.tracker.ReleaseAll();  // in flight under the old assignment: hand out again
        part.dirty = true;          // commit our position under this assignment
        part.seek_to = -1;
        Log(spdlog::level::info,
            absl::StrCat("partition ", tp.partition, " of '", topic_, "' came back to '", subscription_,
                         "' before its commit was confirmed; continuing at offset ", own_position,
                         " (the group had ", offset, ")"));
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
    paused_ = false;  // a fresh assignment is not paused
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
      for (auto it = buffer_.begin(); it != buffer_.end();) {
        if (parts_.count(it->partition)) {
          ++it;
        } else {
          buffer_bytes_ -= it->bytes;
          it = buffer_.erase(it);
        }
      }
    }
    const bool ok = CommitList(commit.get(), /*sync=*/true);
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; ok && i < commit->cnt; ++i) {
      if (commit->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) unconfirmed_.erase(commit->elems[i].partition);
    }
  }

  static constexpr std::size_t kBatch = 1000;

  const ClientConfig config_;
  const std::string subscription_;
  const std::string topic_;
  const SubscriberOptions options_;
  const std::size_t cap_messages_, cap_bytes_;
  ClientOpaque opaque_;
  RdKafkaPtr rk_;
  std::thread poller_;
  std::atomic<bool> stop_{false};

  std::mutex mu_;
  std::condition_variable buffer_cv_;         // buffer_ gained messages, or closed / failed
  std::condition_variable room_cv_;           // Fetch took messages from buffer_
  std::deque<Buffered> buffer_;               // guarded by mu_: polled, not yet fetched
  std::size_t buffer_bytes_ = 0;              // guarded by mu_
  std::map<std::int32_t, Partition> parts_;   // guarded by mu_: the current assignment
  std::map<std::int32_t, Partition> unconfirmed_;  // guarded by mu_: revoked, commit not confirmed
  std::uint64_t next_epoch_ = 0;              // guarded by mu_
  bool paused_ = false;                       // guarded by mu_
  bool seeks_pending_ = false;                // guarded by mu_
  bool closed_ = false;                       // guarded by mu_
  bool interrupted_ = false;                  // guarded by mu_: Fetch returns at once
  absl::Status error_;                        // guarded by mu_: a terminal consume error
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
