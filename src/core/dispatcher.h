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

// Opens a publisher to the dead-letter topic on first use (creating the topic if
// needed). Called at most once per subscriber, from a library thread.
using DeadLetterPublisherFactory =
    std::function<absl::StatusOr<std::shared_ptr<PublisherConnection>>(const std::string& topic)>;

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
// attributes and then acks the source, extends leases, and shuts down in order.
std::shared_ptr<SubscriberConnection> MakeDispatcher(std::shared_ptr<SubscriptionSource> source,
                                                     DispatcherConfig config,
                                                     DeadLetterPublisherFactory dead_letter);

// The usual DeadLetterPublisherFactory: publishes through `broker` itself, creating
// the dead-letter topic when it is missing. Holds `broker` weakly (a backend calls
// this with its own weak_from_this()).
DeadLetterPublisherFactory DeadLetterThrough(std::weak_ptr<BrokerConnection> broker,
                                             std::size_t max_message_bytes);

// The backoff before redelivery attempt `attempt` (2 = first redelivery):
// min * 2^(attempt-2), capped at max.
absl::Duration Backoff(const SubscriberOptions& options, int attempt);

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_DISPATCHER_H_
