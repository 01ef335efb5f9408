// The shared subscriber machinery every backend uses (DESIGN.md section 3).
#ifndef UNIBUS_CORE_DISPATCHER_H_
#define UNIBUS_CORE_DISPATCHER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/source.h"
#include "unibus/broker.h"
#include "unibus/options.h"
#include "unibus/publisher.h"
#include "unibus/subscriber.h"

namespace spdlog {
class logger;
}

namespace unibus::core_internal {

// Where dead-letter copies go: a publisher to the dead-letter topic, and the
// largest message (Message::ByteSize) it accepts.
struct DeadLetterTarget {
  std::shared_ptr<PublisherConnection> publisher;
  std::size_t max_message_bytes = 0;
};

// Opens the dead-letter target on first use (creating the topic if needed). Called
// from the dispatcher's dead-letter thread, until it succeeds; an error for which
// IsPermanentDeadLetterError (core/dead_letter.h) holds is reported for the
// messages waiting, a transient one is retried after a backoff.
using DeadLetterPublisherFactory =
    std::function<absl::StatusOr<DeadLetterTarget>(const std::string& topic)>;

struct DispatcherConfig {
  std::string subscription;
  std::string topic;  // the source topic, for the dead-letter attributes
  SubscriberOptions options;
  std::shared_ptr<spdlog::logger> logger;  // may be null
};

// A SubscriberConnection over `source`: fetches while under the flow-control
// limits, serializes each ordering key, runs handlers / serves Pull, batches acks,
// redelivers nacked messages after exponential backoff (the message keeps its
// key's place), dead-letters after max_delivery_attempts with the reason
// attributes (BuildDeadLetterCopy) and then acks the source, extends leases, and
// shuts down in order.
//
// Dead-lettering runs on its own thread, so a slow or failing dead-letter topic
// never delays redeliveries, acks or lease extensions. A message whose copy cannot
// be written (too large, permanent publish error) is never handed to a handler
// again: it stays unacked (so nothing is lost; it goes back to the broker when the
// subscriber stops), releases its ordering key, is counted in
// SubscriberStats::dead_letter_failed, logged as an error and returned once by
// Session::Wait. A message delivered more than max_delivery_attempts times (the
// broker's count, after a restart) goes to the dead-letter topic without running
// the handler. Stop() waits up to shutdown_timeout for dead-letter writes in
// flight: a written copy is acked, an unwritten one stays unacked.
std::shared_ptr<SubscriberConnection> MakeDispatcher(std::shared_ptr<SubscriptionSource> source,
                                                     DispatcherConfig config,
                                                     DeadLetterPublisherFactory dead_letter);

// The usual DeadLetterPublisherFactory: publishes through `broker` itself, creating
// the dead-letter topic when it is missing; copies are bounded by
// `max_message_bytes`. Holds `broker` weakly (a backend calls this with its own
// weak_from_this()).
DeadLetterPublisherFactory DeadLetterThrough(const std::weak_ptr<BrokerConnection>& broker,
                                             std::size_t max_message_bytes);

// The backoff before redelivery attempt `attempt` (2 = first redelivery):
// min * 2^(attempt-2), capped at max.
absl::Duration Backoff(const SubscriberOptions& options, int attempt);

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_DISPATCHER_H_
