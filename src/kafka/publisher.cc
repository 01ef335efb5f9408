#include "kafka/publisher.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/thread_name.h"
#include "kafka/record.h"
#include "spdlog/logger.h"

namespace unibus::kafka_internal {
namespace {

class KafkaPublisher;

// Payloads up to this size are copied by librdkafka (RD_KAFKA_MSG_F_COPY, into the
// allocation it makes for the message anyway) and ours is freed at once, on the
// publishing thread. Larger ones are read in place until the delivery report. A payload
// freed on the delivery-report thread is a cross-thread free, for which the two threads
// take turns on glibc's arena lock (futex waits on both sides in `perf`).
constexpr std::size_t kCopyPayloadUpTo = 4096;

// One message between produce() and its delivery report: the future's state and,
// in the same allocation, a large payload (which librdkafka reads in place, no copy).
// It keeps itself alive (`self`) until the delivery report. A Send makes one only
// for a large payload, and takes no future from it.
struct InFlight : internal::FutureState<absl::StatusOr<MessageId>> {
  std::string data;
  std::shared_ptr<InFlight> self;
};

class KafkaPublisher : public PublisherConnection {
 public:
  KafkaPublisher(ClientConfig config, std::string topic)
      : config_(std::move(config)), topic_(std::move(topic)) {}
  ~KafkaPublisher() override { Shutdown(); }

  absl::Status Start(const PublisherOptions& options) {
    std::map<std::string, std::string> defaults = {
        {"linger.ms", absl::StrCat(std::max<std::int64_t>(
                          0, absl::ToInt64Milliseconds(options.max_batch_delay)))},
        {"batch.num.messages",
         absl::StrCat(std::min<std::size_t>(options.max_batch_messages, 1000000))},
        {"batch.size", absl::StrCat(std::min<std::size_t>(
                           std::max<std::size_t>(options.max_batch_bytes, 1), 2147483647))},
        {"queue.buffering.max.messages",
         absl::StrCat(std::clamp<std::size_t>(options.max_pending_messages, 1, 2147483647))},
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"client.id", "unibus-publisher"},
    };
    opaque_.logger = config_.options.logger.get();
    opaque_.owner = this;
    auto conf = MakeConf(config_, defaults, {}, &opaque_);
    if (!conf.ok()) return conf.status();
    // librdkafka renders a boolean as "true" or "false" whichever way it was written.
    if (ConfValue(conf->get(), "delivery.report.only.error") == "true") {
      return absl::InvalidArgumentError(absl::StrCat(
          "Kafka property delivery.report.only.error=true for ", config_.url,
          " is not supported by the unibus publisher: Publish futures and Flush need a "
          "delivery report for every message; remove it (Publisher::Send already makes no "
          "result per message)"));
    }
    rd_kafka_conf_set_dr_msg_cb(conf->get(), &KafkaPublisher::OnDelivery);
    rd_kafka_conf_set_error_cb(conf->get(), &KafkaPublisher::OnError);
    auto rk = MakeClient(RD_KAFKA_PRODUCER, *std::move(conf), config_);
    if (!rk.ok()) return rk.status();
    rk_ = *std::move(rk);
    // The effective limit (a URL may set queue.buffering.max.messages itself; 0 is no
    // limit by count, only by bytes).
    std::int64_t limit = 0;
    if (!absl::SimpleAtoi(Property("queue.buffering.max.messages"), &limit) || limit < 0) {
      limit = 1;
    }
    resume_at_ = limit == 0 ? std::numeric_limits<std::int64_t>::max()
                            : limit - std::max<std::int64_t>(1, limit / 4);
    // librdkafka counts payload bytes (not keys or headers) against this limit, and
    // a payload larger than it never fits: Admit refuses it instead of waiting forever.
    std::int64_t kbytes = 0;
    if (absl::SimpleAtoi(Property("queue.buffering.max.kbytes"), &kbytes) && kbytes > 0) {
      queue_max_bytes_ = kbytes * 1024;
    }
    rkt_.reset(rd_kafka_topic_new(rk_.get(), topic_.c_str(), nullptr));
    if (!rkt_)
      return ToStatus(rd_kafka_last_error(),
                      absl::StrCat("open topic '", topic_, "' on ", config_.url));
    poller_ = std::thread([this] {
      core_internal::NameThisThread("ub-kafka-dr");
      PollLoop();
    });
    return absl::OkStatus();
  }

  PublishFuture Publish(Message m) override {
    if (absl::Status s = Admit(m); !s.ok()) {
      return MakeReadyFuture<absl::StatusOr<MessageId>>(std::move(s));
    }
    auto state = std::make_shared<InFlight>();
    InFlight* op = state.get();
    PublishFuture f = Promise<absl::StatusOr<MessageId>>(state).get_future();
    op->self = std::move(state);
    if (absl::Status s = Produce(std::move(m), op); !s.ok()) Complete(op, std::move(s));
    return f;
  }

  // No future: a payload librdkafka copies needs no state of ours until its delivery
  // report (opaque null); a larger one, read in place, lives in an InFlight whose
  // future nobody holds.
  absl::Status Send(Message m) override {
    if (absl::Status s = Admit(m); !s.ok()) return s;
    InFlight* op = nullptr;
    if (m.data.size() > kCopyPayloadUpTo) {
      auto state = std::make_shared<InFlight>();
      op = state.get();
      op->self = std::move(state);
    }
    absl::Status s = Produce(std::move(m), op);
    if (!s.ok()) {
      // Refused at once: returned here, as every backend's Send does, not kept for Flush.
      if (op != nullptr) op->self.reset();
      Delivered(1);
    }
    return s;
  }

  absl::Status Flush() override {
    std::unique_lock<std::mutex> lock(mu_);
    delivered_cv_.wait(lock, [&] { return pending_.load() == 0; });
    absl::Status s = std::move(first_error_);
    first_error_ = absl::OkStatus();
    return s;
  }

  void Shutdown() override {
    if (shutdown_.exchange(true)) {
      std::lock_guard<std::mutex> lock(mu_);  // wait for a concurrent Shutdown to finish
      return;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (rk_) {
      // Send what is pending, but never wait forever for a broker that is gone.
      const auto limit = std::chrono::seconds(30);
      if (!delivered_cv_.wait_for(lock, limit, [&] { return pending_.load() == 0; })) {
        rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        delivered_cv_.wait_for(lock, std::chrono::seconds(5), [&] { return pending_.load() == 0; });
      }
    }
    stop_ = true;
    lock.unlock();
    if (poller_.joinable()) poller_.join();
    rkt_.reset();
    rk_.reset();
  }

 private:
  // What Publish and Send refuse at once.
  absl::Status Admit(const Message& m) const {
    const std::size_t size = m.ByteSize();
    if (size > config_.options.max_message_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("message of ", size, " bytes exceeds the publisher's limit of ",
                       config_.options.max_message_bytes,
                       " bytes (BrokerOptions::max_message_bytes) for topic '", topic_, "'"));
    }
    if (shutdown_.load(std::memory_order_acquire)) {
      return absl::FailedPreconditionError(
          absl::StrCat("publisher for '", topic_, "' is shut down"));
    }
    if (static_cast<std::int64_t>(m.data.size()) > queue_max_bytes_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a payload of ", m.data.size(), " bytes can never fit the producer queue of ",
          queue_max_bytes_, " bytes (librdkafka's queue.buffering.max.kbytes=",
          queue_max_bytes_ / 1024, ") for topic '", topic_,
          "'; raise it (URL ?queue.buffering.max.kbytes=N) or send smaller payloads"));
    }
    return absl::OkStatus();
  }

  // Hands `m` to librdkafka, whose delivery report settles it (Settle, Delivered).
  // Returns the error when librdkafka refuses it at once; the caller then settles it.
  // `op` is null for a Send whose payload librdkafka copies.
  absl::Status Produce(Message m, InFlight* op) {
    const bool copy = m.data.size() <= kCopyPayloadUpTo;
    if (!copy) op->data = std::move(m.data);
    const std::string& payload = copy ? m.data : op->data;
    HeadersPtr headers = HeadersOf(m.attributes);  // record.h: the header rule
    pending_.fetch_add(1, std::memory_order_relaxed);
    for (;;) {
      const std::uint64_t reports_before = reports_.load();
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk_.get(), RD_KAFKA_V_RKT(rkt_.get()),
          RD_KAFKA_V_MSGFLAGS(copy ? RD_KAFKA_MSG_F_COPY : 0),
          RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
          RD_KAFKA_V_KEY(m.ordering_key.empty() ? nullptr : m.ordering_key.data(),
                         m.ordering_key.size()),
          RD_KAFKA_V_HEADERS(headers.get()), RD_KAFKA_V_OPAQUE(op), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        (void)headers.release();  // librdkafka owns them now
        return absl::OkStatus();
      }
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !shutdown_.load(std::memory_order_acquire)) {
        // Backpressure: max_pending_messages are unsent, or the queue's bytes are at
        // queue.buffering.max.kbytes; wait for delivery reports. Woken once the count
        // has drained to resume_at_ (see Delivered), not per report. A queue full by
        // bytes has a count under resume_at_: it waits for the next report, since a
        // retry at once would spin until one arrives (a whole core while a broker is
        // down).
        room_waiters_.fetch_add(1);
        {
          std::unique_lock<std::mutex> lock(mu_);
          delivered_cv_.wait_for(lock, std::chrono::milliseconds(10), [&] {
            return (Queued() <= resume_at_ && reports_.load() != reports_before) ||
                   shutdown_.load(std::memory_order_acquire);
          });
        }
        room_waiters_.fetch_sub(1);
        continue;
      }
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {  // Shutdown ran while it waited for room
        return absl::FailedPreconditionError(
            absl::StrCat("publisher for '", topic_, "' is shut down"));
      }
      return ErrorFor(err, m.ordering_key.size() + payload.size(), /*local=*/true);
    }
  }

  // Serves delivery reports; the reports of one poll leave pending_ together (one
  // atomic update on a line the publishing thread also writes, not one per message).
  void PollLoop() {
    while (!stop_.load(std::memory_order_acquire)) {
      rd_kafka_poll(rk_.get(), 100);
      Delivered(std::exchange(reported_, 0));
    }
    rd_kafka_poll(rk_.get(), 0);
    Delivered(std::exchange(reported_, 0));
  }

  absl::Status ErrorFor(rd_kafka_resp_err_t err, std::size_t bytes, bool local) const {
    const std::string context = absl::StrCat("publish to '", topic_, "' on ", config_.url);
    switch (err) {
      case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        if (local) {
          return absl::InvalidArgumentError(absl::StrCat(
              context, ": a message of about ", bytes,
              " bytes exceeds librdkafka's message.max.bytes (", Property("message.max.bytes"),
              "); raise it (URL ?message.max.bytes=N) together with the broker's limit, or send "
              "smaller "
              "messages"));
        }
        return absl::InvalidArgumentError(absl::StrCat(
            context, ": the broker rejected a message of about ", bytes,
            " bytes as too large (its message.max.bytes / the topic's max.message.bytes); "
            "send smaller messages or raise those limits"));
      case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
        return absl::NotFoundError(
            absl::StrCat("topic '", topic_, "' does not exist on ", config_.url,
                         "; create it first (unibus topics create ", topic_, ")"));
      case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
      case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
        return AuthorizationError(
            config_, context, err,
            err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ? "WRITE" : "IDEMPOTENT_WRITE",
            topic_, " (to publish)");
      default:
        if (CodeOf(err) == absl::StatusCode::kUnauthenticated) {
          return AuthenticationError(config_, absl::StrCat(context, ": ", rd_kafka_err2str(err)));
        }
        return ToStatus(err, context);
    }
  }

  std::string Property(const char* name) const { return ConfValue(rd_kafka_conf(rk_.get()), name); }

  static std::string ConfValue(const rd_kafka_conf_t* conf, const char* name) {
    char buf[64];
    size_t size = sizeof(buf);
    if (rd_kafka_conf_get(conf, name, buf, &size) != RD_KAFKA_CONF_OK) return "?";
    return buf;
  }

  // Messages in librdkafka's queue: pending_ counts a blocked Publish's message too,
  // before it is queued (with a queue of 1 and three blocked publishers, waiting for
  // pending_ itself to fall to resume_at_ left each of them to its 10 ms timeout).
  std::int64_t Queued() const { return pending_.load() - room_waiters_.load(); }

  // A message librdkafka refused at once, on the publishing thread.
  void Complete(InFlight* op, absl::Status error) {
    Settle(op, std::move(error));
    Delivered(1);
  }

  // Records a failure for Flush and sets the future of `op` (null: a Send of a copied
  // payload, which has neither state nor future).
  void Settle(InFlight* op, absl::StatusOr<MessageId> result) {
    if (!result.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (first_error_.ok()) first_error_ = result.status();
    }
    if (op != nullptr) {
      std::shared_ptr<InFlight> owned = std::move(op->self);
      owned->data = std::string();  // librdkafka is done with it
      // A Send's state: no future was made, so the value goes nowhere.
      Promise<absl::StatusOr<MessageId>>(owned).set_value(std::move(result));
    }
  }

  // `n` messages have their outcome.
  void Delivered(std::int64_t n) {
    if (n == 0) return;
    // A Publish blocked on a full queue is woken when the unsent count is down to
    // resume_at_, not by every report: waking it per report (a futex wake and a failed
    // retry per message) put the publisher into a slow mode at ~2.5x the CPU per message
    // (Python, 100-byte messages, 1 broker: 0.5M msg/s in about half the runs, else 1.1M).
    // Sequentially consistent with the waiter's room_waiters_ then pending_ (no lost wake).
    reports_.fetch_add(static_cast<std::uint64_t>(n));
    const std::int64_t left = pending_.fetch_sub(n) - n;
    const int waiters = room_waiters_.load();
    if (left == 0 || (waiters > 0 && left - waiters <= resume_at_)) {
      std::lock_guard<std::mutex> lock(mu_);
      delivered_cv_.notify_all();
    }
  }

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* op = static_cast<InFlight*>(m->_private);
    auto* self = static_cast<KafkaPublisher*>(static_cast<ClientOpaque*>(opaque)->owner);
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      self->Settle(op, self->ErrorFor(m->err, m->len + m->key_len, /*local=*/false));
    } else if (op != nullptr) {
      self->Settle(op, MessageIdOf(m->partition, m->offset));  // a Send wants no id
    }
    ++self->reported_;  // PollLoop takes it off pending_ after the poll
  }

  static void OnError(rd_kafka_t* rk, int err, const char* reason, void*) {
    auto* opaque = static_cast<ClientOpaque*>(rd_kafka_opaque(rk));
    if (opaque != nullptr && opaque->logger != nullptr) {
      opaque->logger->warn("kafka producer: {} ({})", reason,
                           rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)));
    }
  }

  const ClientConfig config_;
  const std::string topic_;
  ClientOpaque opaque_;
  RdKafkaPtr rk_;
  TopicPtr rkt_;
  std::thread poller_;
  std::atomic<bool> stop_{false}, shutdown_{false};
  std::atomic<std::int64_t> pending_{0};  // produced, no delivery report yet
  std::int64_t reported_ = 0;             // delivery reports of the current poll (poller_ only)
  std::atomic<int> room_waiters_{0};      // Publish calls blocked on a full queue
  std::int64_t resume_at_ = 0;            // they retry at this many pending (3/4 full)
  std::int64_t queue_max_bytes_ =
      std::numeric_limits<std::int64_t>::max();  // queue.buffering.max.kbytes, in bytes
  std::atomic<std::uint64_t> reports_{0};        // outcomes so far (Delivered's n, summed)
  std::mutex mu_;
  std::condition_variable delivered_cv_;  // a delivery report arrived
  absl::Status first_error_;              // guarded by mu_: since the last Flush
};

}  // namespace

absl::StatusOr<std::shared_ptr<PublisherConnection>> MakeKafkaPublisher(
    const ClientConfig& config, const std::string& topic, const PublisherOptions& options) {
  auto p = std::make_shared<KafkaPublisher>(config, topic);
  if (auto s = p->Start(options); !s.ok()) return s;
  return p;
}

}  // namespace unibus::kafka_internal
