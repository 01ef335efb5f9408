// Receiving messages from a subscription: push (Subscribe) or batch pull (Pull).
#ifndef UNIBUS_SUBSCRIBER_H_
#define UNIBUS_SUBSCRIBER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "unibus/ack_handler.h"
#include "unibus/export.h"
#include "unibus/message.h"

namespace unibus {

// The handler a Subscribe() session calls on library threads. It must settle the
// handler (ack/nack), now or later from any thread; an exception it throws nacks.
using MessageHandler = std::function<void(Message, AckHandler)>;

struct UNIBUS_EXPORT PulledMessage {
  Message message;
  AckHandler ack;
};

// Counters of a subscriber since it started.
struct UNIBUS_EXPORT SubscriberStats {
  // Deliveries handed to a handler or returned by Pull: a redelivered message
  // counts once per attempt.
  std::int64_t delivered = 0;
  // Messages acked by their handler or Pull caller.
  std::int64_t acked = 0;
  // Failed attempts: nack(), reject(), a handler that threw or dropped its
  // AckHandler. Once per attempt.
  std::int64_t nacked = 0;
  // Messages written to the dead-letter topic (and then acked): once per message.
  std::int64_t dead_lettered = 0;
  // Of those, the ones a handler rejected as unprocessable (AckHandler::reject, an
  // undecodable typed message); the others used up max_delivery_attempts.
  std::int64_t dead_lettered_rejected = 0;
  // Messages whose dead-letter copy cannot be written (too large for the topic, a
  // permanent publish error): once per message. Each stays unacked (counted in
  // `outstanding`) and is not handed to a handler again; it goes back to the broker
  // when the subscriber stops. Session::Wait returns the error.
  std::int64_t dead_letter_failed = 0;
  // Fetched, not yet settled.
  std::int64_t outstanding = 0;
};

// What runs behind a Session. Mockable.
class UNIBUS_EXPORT SessionImpl {
 public:
  virtual ~SessionImpl() = default;
  virtual void Stop() = 0;
  virtual absl::Status Wait(absl::Duration timeout) = 0;
};

// A running Subscribe(): stops (and joins its threads) on Stop() or destruction.
class UNIBUS_EXPORT Session {
 public:
  Session() = default;
  explicit Session(std::unique_ptr<SessionImpl> impl) : impl_(std::move(impl)) {}
  Session(Session&&) noexcept = default;
  Session& operator=(Session&&) noexcept = default;
  ~Session() { Stop(); }

  // Stops fetching, lets running handlers finish (up to shutdown_timeout), finishes
  // the dead-letter writes in flight (up to the same deadline; a message whose copy
  // was not written stays unacked), commits what was acked, returns unsettled
  // messages to the broker, joins every thread.
  void Stop() {
    if (impl_) impl_->Stop();
  }
  // Blocks until something needs the caller's attention, or `timeout` passes
  // (returns DeadlineExceeded):
  //  - a message could not be dead-lettered (see
  //    SubscriberStats::dead_letter_failed): returns that error, naming the message
  //    and the dead-letter topic; the session keeps running, and each such error is
  //    returned by one Wait call;
  //  - the session ended by itself with an error (the broker went away for good):
  //    returns it;
  //  - Stop() was called: returns OK.
  absl::Status Wait(absl::Duration timeout) {
    return impl_ ? impl_->Wait(timeout) : absl::OkStatus();
  }

 private:
  std::unique_ptr<SessionImpl> impl_;
};

// What a backend implements behind Subscriber. Mockable.
class UNIBUS_EXPORT SubscriberConnection {
 public:
  virtual ~SubscriberConnection() = default;
  virtual absl::StatusOr<Session> Subscribe(MessageHandler handler) = 0;
  virtual absl::StatusOr<std::vector<PulledMessage>> Pull(std::size_t max_messages,
                                                          absl::Duration timeout) = 0;
  virtual SubscriberStats stats() const = 0;
  // Stops fetching; unsettled messages go back to the broker. Joins all threads.
  virtual void Shutdown() = 0;
};

// Receives from one subscription. A cheap value sharing one connection. Use either
// Subscribe() or Pull() on one Subscriber, not both at once. Thread-safe.
class UNIBUS_EXPORT Subscriber {
 public:
  explicit Subscriber(std::shared_ptr<SubscriberConnection> conn) : conn_(std::move(conn)) {}

  // Starts calling `handler` on library threads: messages with the same ordering
  // key one at a time in publish order, others in parallel (SubscriberOptions::
  // concurrency). Returns at once.
  [[nodiscard]] absl::StatusOr<Session> Subscribe(MessageHandler handler) {
    return conn_->Subscribe(std::move(handler));
  }

  // Returns up to `max_messages` messages, waiting at most `timeout` for the first
  // one (an empty vector when none came). Each must be settled through its
  // AckHandler. Per-key order holds: a key's next message is only returned after
  // the previous one is settled.
  [[nodiscard]] absl::StatusOr<std::vector<PulledMessage>> Pull(std::size_t max_messages,
                                                                absl::Duration timeout) {
    return conn_->Pull(max_messages, timeout);
  }

  SubscriberStats stats() const { return conn_->stats(); }

  // Stops fetching, lets running handlers finish (SubscriberOptions::
  // shutdown_timeout), commits what was acked, returns unsettled messages to the
  // broker and joins every thread. Blocks. Idempotent; stops every copy of this
  // Subscriber (they share one connection) and every Session it started. The last
  // copy's destruction does the same.
  void Shutdown() { conn_->Shutdown(); }

  std::shared_ptr<SubscriberConnection> connection() const { return conn_; }

 private:
  std::shared_ptr<SubscriberConnection> conn_;
};

}  // namespace unibus

#endif  // UNIBUS_SUBSCRIBER_H_
