// The shared publisher: queues messages, sends them in batches from one background
// thread, resolves each future with the broker's answer.
#ifndef UNIBUS_CORE_BATCHING_PUBLISHER_H_
#define UNIBUS_CORE_BATCHING_PUBLISHER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "unibus/options.h"
#include "unibus/publisher.h"

namespace unibus::core_internal {

// What a backend provides to store batches of messages.
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  // Stores `batch` (in order) on `topic`. Returns one result per message, in order:
  // its id, or why it failed. A whole-batch failure may be returned as the status.
  virtual absl::StatusOr<std::vector<absl::StatusOr<MessageId>>> PublishBatch(
      const std::string& topic, std::vector<Message>& batch) = 0;
};

// A PublisherConnection that batches per PublisherOptions and hands batches to
// `sink` from one background thread (so batches of one publisher, and so the
// messages of an ordering key, stay in publish order). Validates size against
// `max_message_bytes` before queueing.
std::shared_ptr<PublisherConnection> MakeBatchingPublisher(std::shared_ptr<BatchSink> sink,
                                                           std::string topic,
                                                           PublisherOptions options,
                                                           std::size_t max_message_bytes);

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_BATCHING_PUBLISHER_H_
