// The kafka:// subscription source: a consumer-group member feeding the shared
// dispatcher (core/dispatcher.h).
#ifndef UNIBUS_KAFKA_SOURCE_H_
#define UNIBUS_KAFKA_SOURCE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/source.h"
#include "kafka/common.h"
#include "unibus/options.h"

namespace unibus::kafka_internal {

// A SubscriptionSource over one consumer in group `subscription` reading `topic`.
//
// Offsets are managed by hand (enable.auto.commit=false): each partition's
// OffsetTracker commits only the contiguous prefix of settled messages, with the
// acks above it in the commit metadata so a consumer taking the partition over
// skips them. Fetch polls the consumer on the dispatcher's own thread, so a
// message goes from librdkafka's queue to the dispatcher with no thread hop. A
// keeper thread of ours destroys the librdkafka messages Fetch has converted (as
// costly as polling them; off the fetching thread it overlaps the dispatcher's
// work), commits every 50 ms and, when nobody has fetched for a
// second (the dispatcher is full, a Pull caller is away), pauses the assigned
// partitions and polls, so rebalances are served and max.poll.interval.ms is kept
// without taking or buffering messages. On revoke it commits what was
// settled and forgets the revoked partitions' in-flight tokens (their late acks are
// ignored; the new owner redelivers them). Release() keeps the offset uncommitted
// and seeks the partition back, so the message is read again soon by this consumer
// or, after a rebalance or restart, by another.
absl::StatusOr<std::shared_ptr<core_internal::SubscriptionSource>> MakeKafkaSource(
    const ClientConfig& config, const std::string& subscription, const std::string& topic,
    const SubscriberOptions& options);

}  // namespace unibus::kafka_internal

#endif  // UNIBUS_KAFKA_SOURCE_H_
