// The kafka:// publisher: librdkafka batches itself, so this implements
// PublisherConnection directly over an idempotent producer.
#ifndef UNIBUS_KAFKA_PUBLISHER_H_
#define UNIBUS_KAFKA_PUBLISHER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kafka/common.h"
#include "unibus/options.h"
#include "unibus/publisher.h"

namespace unibus::kafka_internal {

// A publisher to `topic`: one idempotent producer (enable.idempotence=true,
// acks=all) whose delivery reports a background thread of ours polls, resolving
// each message's future with "PARTITION-OFFSET" or the error. Attributes travel as
// headers, the ordering key as the message key (which also picks the partition, so
// a key's messages stay in order). PublisherOptions map to linger.ms,
// batch.num.messages, batch.size and queue.buffering.max.messages.
absl::StatusOr<std::shared_ptr<PublisherConnection>> MakeKafkaPublisher(
    const ClientConfig& config, const std::string& topic, const PublisherOptions& options);

}  // namespace unibus::kafka_internal

#endif  // UNIBUS_KAFKA_PUBLISHER_H_
