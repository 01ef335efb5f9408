// Publishing messages to a topic.
#ifndef UNIBUS_PUBLISHER_H_
#define UNIBUS_PUBLISHER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "unibus/capabilities.h"
#include "unibus/export.h"
#include "unibus/future.h"
#include "unibus/message.h"

namespace unibus {

using MessageId = std::string;
using PublishFuture = Future<absl::StatusOr<MessageId>>;

// What a backend implements behind Publisher. Mockable.
class UNIBUS_EXPORT PublisherConnection {
 public:
  virtual ~PublisherConnection() = default;
  virtual PublishFuture Publish(Message m) = 0;
  // Queues `messages` as one unit, in order; one future per message, in order. A
  // batching backend (sqlite, mem) puts them into one batch where the batch limits
  // allow, so its sender never takes the first of them alone. The default publishes
  // them one by one (Kafka and Pub/Sub batch by their own linger anyway).
  virtual std::vector<PublishFuture> PublishMany(std::vector<Message> messages) {
    std::vector<PublishFuture> out;
    out.reserve(messages.size());
    for (Message& m : messages) out.push_back(Publish(std::move(m)));
    return out;
  }
  // Queues `m` with no result of its own (see Publisher::Send). Returns an error
  // only for what is refused at once; a later failure is recorded for the next
  // Flush(). The default publishes `m` and drops its future, which every backend's
  // Flush() reports; Kafka overrides it to make no future at all.
  virtual absl::Status Send(Message m) {
    PublishFuture f = Publish(std::move(m));
    if (!f.is_ready()) return absl::OkStatus();
    const absl::StatusOr<MessageId>& r = f.get();
    return r.ok() ? absl::OkStatus() : r.status();
  }
  virtual absl::Status Flush() = 0;
  // Rejects new publishes, sends what is pending, joins the library's threads.
  virtual void Shutdown() = 0;
  // Lets `ordering_key` publish again after a failed publish paused it. A backend
  // that does not pause keys (all but pubsub) keeps the default, which does nothing.
  virtual void ResumePublish(const std::string& ordering_key) { (void)ordering_key; }
};

// The portability rules every publish is checked against, the same on every
// backend (README, "The contract"): a message has data or attributes; attribute
// keys are not empty; attribute keys and values and the ordering key are UTF-8;
// no attribute key is reserved (`unibus-*`, except the typed envelope's
// unibus-type, unibus-encoding and unibus-produced-at); the attribute count, key,
// value, ordering-key and message sizes are within `caps`' limits. Returns OK, or
// InvalidArgument naming the field, the rule and `topic`.
// `allow_reserved`: PublisherOptions::allow_reserved_attributes.
[[nodiscard]] UNIBUS_EXPORT absl::Status ValidateForPublish(const Message& m,
                                                            const Capabilities& caps,
                                                            std::string_view topic,
                                                            bool allow_reserved = false);

// Publishes to one topic. A cheap value: copies share one connection, batching and
// background thread. Thread-safe.
class UNIBUS_EXPORT Publisher {
 public:
  // A publisher that sends whatever it is given (no portability check).
  explicit Publisher(std::shared_ptr<PublisherConnection> conn) : conn_(std::move(conn)) {}
  // A publisher that refuses at once what ValidateForPublish(m, caps, topic) refuses
  // (what Broker::publisher returns).
  Publisher(std::shared_ptr<PublisherConnection> conn, Capabilities caps, std::string topic,
            bool allow_reserved = false)
      : conn_(std::move(conn)),
        rules_(std::make_shared<const Rules>(
            Rules{std::move(caps), std::move(topic), allow_reserved})) {}

  // Queues `m` for the next batch. The future holds the broker-assigned id once the
  // broker has the message durably (as durable as the backend is), or the error:
  // InvalidArgument at once for what the contract refuses (see ValidateForPublish;
  // never retried), NotFound (topic missing), Unavailable, ...
  // Never blocks on the network; blocks only while max_pending_messages are unsent.
  PublishFuture Publish(Message m) {
    if (rules_ != nullptr) {
      if (absl::Status s =
              ValidateForPublish(m, rules_->caps, rules_->topic, rules_->allow_reserved);
          !s.ok()) {
        return MakeReadyFuture<absl::StatusOr<MessageId>>(std::move(s));
      }
    }
    return conn_->Publish(std::move(m));
  }

  // Publish without a result per message, as librdkafka's produce() without a
  // delivery-report callback, confluent-kafka's produce() or Kafka's producer.send()
  // with its future ignored: for streams where the caller only needs to know that
  // everything sent has been stored. The same checks as Publish, returned at once
  // (InvalidArgument; FailedPrecondition after Shutdown); any later failure (NotFound,
  // Unavailable, ...) is returned by the next Flush(), whose OK means every message
  // sent before it is stored, as durable as the backend is (README, "The contract",
  // item 1). A failure is returned by exactly one Flush, the first to return after it
  // (copies of a Publisher share one connection): threads that share a publisher and
  // each need their own sends' outcome use Publish. No future is made: on Kafka this
  // saves an allocation and a completion per message (README, Performance); through
  // PublisherMetrics::Wrap a Send is counted by a Publish and its future. Blocks only
  // while max_pending_messages are unsent.
  [[nodiscard]] absl::Status Send(Message m) {
    if (rules_ != nullptr) {
      if (absl::Status s =
              ValidateForPublish(m, rules_->caps, rules_->topic, rules_->allow_reserved);
          !s.ok()) {
        return s;
      }
    }
    return conn_->Send(std::move(m));
  }

  // Publish for several messages at once: the same checks and futures (one per
  // message, in order; a refused message's future holds InvalidArgument and the
  // others are still sent), with the valid ones queued together, so that a batching
  // backend (sqlite, mem) stores them in one transaction rather than letting its
  // sender take the first alone. `unibus classify` publishes each micro-batch's
  // predictions this way.
  std::vector<PublishFuture> PublishMany(std::vector<Message> messages);

  // Blocks until every message published or sent before this call has its result.
  // Returns the first error since the previous Flush returned (Publish's and Send's
  // alike), if any; each error is returned once.
  [[nodiscard]] absl::Status Flush() { return conn_->Flush(); }

  // Sends what is pending, then joins the library's threads; every Publish after it
  // returns FailedPrecondition at once. Blocks until the pending messages have
  // their results. Idempotent; shuts down every copy of this Publisher (they share
  // one connection). The last copy's destruction does the same.
  void Shutdown() { conn_->Shutdown(); }

  // On pubsub, a failed publish of ordering key K pauses K, as Google's client
  // libraries do: K's queued messages fail, and every later Publish with key K
  // fails at once with FailedPrecondition until K is resumed, by this call or by
  // the next Flush() (which returns the failure and resumes every key). Other
  // keys are not affected. Other backends never pause a key; there it does nothing.
  void ResumePublish(const std::string& ordering_key) { conn_->ResumePublish(ordering_key); }

  std::shared_ptr<PublisherConnection> connection() const { return conn_; }

  // A Publisher over `conn` (e.g. a decorator of connection()) that keeps this one's
  // portability rules: it refuses what this one refuses (see ValidateForPublish).
  Publisher WithConnection(std::shared_ptr<PublisherConnection> conn) const {
    Publisher p(std::move(conn));
    p.rules_ = rules_;
    return p;
  }

 private:
  struct Rules {
    Capabilities caps;
    std::string topic;
    bool allow_reserved = false;
  };
  std::shared_ptr<PublisherConnection> conn_;
  std::shared_ptr<const Rules> rules_;  // null: no check
};

}  // namespace unibus

#endif  // UNIBUS_PUBLISHER_H_
