// What a backend provides for a subscription; the shared delivery machinery
// (core/dispatcher.h) does the rest: flow control, per-key ordering, redelivery
// with backoff, dead-lettering, lease extension, ack batching and shutdown.
#ifndef UNIBUS_CORE_SOURCE_H_
#define UNIBUS_CORE_SOURCE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "unibus/message.h"

namespace unibus::core_internal {

// One message as the broker handed it out. `token` identifies the lease for Ack /
// Release / ExtendLeases (a sqlite sequence number, a Kafka partition+offset index,
// a Pub/Sub ack id). `message.delivery_attempt` is the broker's count (1 if it does
// not count); local redeliveries add to it. `message.topic` may be left empty:
// the dispatcher sets the subscription's topic on every copy it hands out.
struct Delivery {
  Message message;
  std::string token;
};

// A subscription's feed of messages from one backend. The dispatcher calls Fetch
// from one thread at a time and Ack/Release/ExtendLeases from another; an
// implementation must allow those two to overlap.
class SubscriptionSource {
 public:
  virtual ~SubscriptionSource() = default;

  // Returns up to `max_messages` (and about `max_bytes`) newly leased messages,
  // blocking up to `wait` for the first. An empty vector means none came. An error
  // is reported to the caller (Unavailable: the dispatcher retries with backoff).
  virtual absl::StatusOr<std::vector<Delivery>> Fetch(std::size_t max_messages,
                                                      std::size_t max_bytes,
                                                      absl::Duration wait) = 0;

  // The messages behind `tokens` were handled: never deliver them again. Called
  // with batches; tokens of one ordering key arrive in delivery order.
  virtual absl::Status Ack(const std::vector<std::string>& tokens) = 0;

  // The messages behind `tokens` were not handled and this subscriber lets go of
  // them (on shutdown): deliver them again soon, to any consumer.
  virtual absl::Status Release(const std::vector<std::string>& tokens) = 0;

  // Keeps the leases of `tokens` alive for `deadline` more (lease-based brokers).
  // The dispatcher calls it every deadline/3 for every unsettled message.
  virtual absl::Status ExtendLeases(const std::vector<std::string>& tokens,
                                    absl::Duration deadline) = 0;

  // True when the broker keeps the message's lease itself and the dispatcher must
  // extend it (sqlite, Pub/Sub). Kafka holds offsets and needs no extension.
  virtual bool needs_lease_extension() const = 0;

  // From now on, Fetch returns at once (a blocked one too, with what it has, maybe
  // nothing), so that a stopping dispatcher need not wait out the Fetch timeout.
  // Called from another thread than Fetch; Ack, Release and Close still work after
  // it. Default: nothing (a blocked Fetch returns after its `wait`).
  virtual void Interrupt() {}

  // Takes back, from the dispatcher, the messages it fetched whose token `selects`
  // picks and that no handler or Pull caller has now (queued, waiting behind their
  // ordering key's active message once it passes the key on, or nacked and waiting
  // out a redelivery backoff); returns their tokens. The dispatcher
  // forgets them without Ack or Release: the source owns them again. Their keys pass
  // on to the keys' next messages, which may be taken too. Nothing once stopping.
  // Safe from any thread that holds none of the dispatcher's locks, such as inside
  // Fetch. A Kafka rebalance uses it so that it waits only for messages a handler
  // has started, not for those still queued behind them.
  using Withdrawer =
      std::function<std::vector<std::string>(absl::FunctionRef<bool(const std::string&)>)>;

  // The dispatcher hands its Withdrawer to the source before its first Fetch (it may
  // be called after the dispatcher is gone: it then returns nothing). Default: unused.
  virtual void SetWithdrawer(const Withdrawer& /*withdraw*/) {}

  // Stops the source: after Close, Fetch returns at once. Commits what was acked.
  virtual void Close() = 0;
};

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_SOURCE_H_
