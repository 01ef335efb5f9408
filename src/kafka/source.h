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
// skips them. A background thread of ours polls the consumer (so rebalances are
// served even while the dispatcher is full) into a bounded buffer, pausing the
// assigned partitions while the buffer is full. On revoke it commits what was
// settled and forgets the revoked partitions' in-flight tokens (their late acks are
// ignored; the new owner redelivers them). Release() keeps the offset uncommitted
// and seeks the partition back, so the message is read again soon by this consumer
// or, after a rebalance or restart, by another.
absl::StatusOr<std::shared_ptr<core_internal::SubscriptionSource>> MakeKafkaSource(
    const ClientConfig& config, const std::string& subscription, const std::string& topic,
    const SubscriberOptions& options);

}  // namespace unibus::kafka_internal

#endif  // UNIBUS_KAFKA_SOURCE_H_
