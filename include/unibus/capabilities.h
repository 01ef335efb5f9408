// What a backend really supports, so callers and tests can ask instead of guess.
#ifndef UNIBUS_CAPABILITIES_H_
#define UNIBUS_CAPABILITIES_H_

#include <cstddef>
#include <string>

#include "unibus/export.h"

namespace unibus {

struct UNIBUS_EXPORT Capabilities {
  std::string backend;                  // "mem", "sqlite", "kafka", "pubsub"
  bool durable = false;                 // messages survive a process restart
  bool multi_process = false;           // several processes may share one broker
  bool ordering = true;                 // per-ordering-key serial, in-order delivery
  bool partitions = false;              // topics have partitions (Kafka)
  bool native_dead_letter = false;      // the broker moves messages to a DLQ itself
  bool retention = false;               // per-topic retention by age / count
  bool admin_create_topic = true;       // Admin::CreateTopic works on this server
  bool admin_delete_topic = true;       // Admin::DeleteTopic works on this server
  bool start_position = true;           // subscriptions may start at earliest or latest
  bool survives_broker_restart = true;  // a broker restart keeps its messages

  // The limits a publish is checked against (InvalidArgument at once when one is
  // passed): what this backend delivers end to end, published and then received,
  // capped by BrokerOptions::max_message_bytes. Sizes are bytes. A limit the backend
  // does not have of its own equals max_message_bytes (Message::ByteSize counts
  // every byte of data, attribute keys and values, and ordering key).
  std::size_t max_message_bytes = 10 * 1024 * 1024;  // Message::ByteSize()
  std::size_t max_attributes = 10 * 1024 * 1024;     // attributes per message
  std::size_t max_attribute_key_bytes = 10 * 1024 * 1024;
  std::size_t max_attribute_value_bytes = 10 * 1024 * 1024;
  std::size_t max_ordering_key_bytes = 10 * 1024 * 1024;
};

}  // namespace unibus

#endif  // UNIBUS_CAPABILITIES_H_
