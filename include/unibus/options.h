// Options for brokers, publishers and subscribers: plain structs, defaults beside
// each field.
#ifndef UNIBUS_OPTIONS_H_
#define UNIBUS_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "unibus/export.h"

namespace spdlog {
class logger;
}

namespace unibus {

struct UNIBUS_EXPORT BrokerOptions {
  // Where the library logs. Null: it logs nothing. The library never touches
  // spdlog's global logger.
  std::shared_ptr<spdlog::logger> logger;
  // Backend properties, merged over the URL's query parameters (Kafka: passed
  // through to librdkafka, e.g. "security.protocol").
  std::map<std::string, std::string> properties;
  // Largest message (Message::ByteSize: data + attributes + key) a publisher
  // accepts. The effective limit is the smaller of this and what the backend can
  // deliver end to end (Capabilities::max_message_bytes reports it).
  std::size_t max_message_bytes = 10 * 1024 * 1024;
  // Names of the resources unibus creates (Admin::CreateTopic and
  // CreateSubscription, create_topic_if_missing, a subscription created from
  // SubscriberOptions::topic, a dead-letter topic) must follow the portable rule:
  // 3-249 characters of letters, digits, '.', '_' and '-', starting with a letter,
  // not starting with "goog", so that they work on every backend. false: create any
  // name the backend itself accepts. Existing resources are reachable by any name
  // their backend accepts either way.
  bool portable_names = true;
  // How long Open and admin calls wait for an unreachable broker.
  absl::Duration connect_timeout = absl::Seconds(10);
};

struct UNIBUS_EXPORT PublisherOptions {
  // A batch is sent when it holds this many messages...
  std::size_t max_batch_messages = 1000;
  // ...or this many bytes...
  std::size_t max_batch_bytes = 1024 * 1024;
  // ...or its first message has waited this long.
  absl::Duration max_batch_delay = absl::Milliseconds(1);
  // Publish() blocks while this many messages are unsent (backpressure).
  std::size_t max_pending_messages = 100000;
  // Create the topic on first use when it does not exist (where the backend can).
  bool create_topic_if_missing = false;
  // Let messages carry the library's own `unibus-*` attributes (dead-letter reason,
  // source topic, ...), which Publish otherwise refuses. Only for tools that move
  // the library's messages as they are (writing or restoring dead letters).
  bool allow_reserved_attributes = false;
};

// Where a new subscription starts reading its topic.
enum class StartPosition { kEarliest, kLatest };

struct UNIBUS_EXPORT SubscriberOptions {
  // The topic to read. Needed on Kafka (a subscription is a consumer group, which
  // names no topic by itself). Elsewhere, when set and the subscription does not
  // exist, it is created on this topic at `start`.
  std::string topic;
  StartPosition start = StartPosition::kLatest;
  // Messages of one ordering key are handed out one at a time, in publish order.
  // False: keys are ignored and every message may be handed out at once (a reader
  // of a dead-letter topic, whose messages have already released their keys).
  bool message_ordering = true;

  // Flow control: the library stops fetching while this many messages, or bytes,
  // are delivered but not yet acked or nacked.
  std::size_t max_outstanding_messages = 1000;
  std::size_t max_outstanding_bytes = 100 * 1024 * 1024;

  // Threads that run the Subscribe() handler.
  int concurrency = 4;

  // How long the broker keeps an unacked message leased to this subscriber before
  // it may go to another (the library extends the lease while a handler runs).
  absl::Duration ack_deadline = absl::Seconds(30);

  // Redelivery after nack(): backoff doubles from min to max.
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(10);
  // After this many delivery attempts the message goes to the dead-letter topic.
  int max_delivery_attempts = 5;
  // Dead-letter topic; empty means "<subscription>.dead-letter".
  std::string dead_letter_topic;

  // Stop() waits this long for running handlers before it gives up on them (their
  // messages are then redelivered later).
  absl::Duration shutdown_timeout = absl::Seconds(10);
};

}  // namespace unibus

#endif  // UNIBUS_OPTIONS_H_
