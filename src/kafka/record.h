// How a consumed Kafka record becomes a unibus delivery: its Message, and the
// token the dispatcher hands back to ack it.
#ifndef UNIBUS_KAFKA_RECORD_H_
#define UNIBUS_KAFKA_RECORD_H_

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "unibus/message.h"

namespace unibus::kafka_internal {

// A delivery token: partition (4 bytes), offset (8) and the assignment epoch (low
// 3 bytes; it tells a token from an earlier assignment of the partition), packed
// into 15 bytes so that it fits std::string's inline buffer: no allocation and no
// text parsing per message.
std::string TokenOf(std::int32_t partition, std::int64_t offset, std::uint64_t epoch);

// Reads a TokenOf token; false for anything else. `epoch` gets the low 24 bits.
bool ParseToken(const std::string& token, std::int32_t* partition, std::int64_t* offset,
                std::uint64_t* epoch);

// Epochs compare in the token's 24 bits.
inline bool SameEpoch(std::uint64_t a, std::uint64_t b) { return (a & 0xFFFFFF) == (b & 0xFFFFFF); }

// Attributes and Kafka headers map by one rule, the same both ways:
//  - an attribute is one header of the same name and bytes. unibus writes each name
//    once, and never a NULL value (an empty value is an empty header);
//  - a header with a NULL value reads as an attribute with an empty value
//    (attributes cannot be null on any backend);
//  - a name that occurs more than once reads as its last value, as Kafka's
//    Headers.lastHeader() and librdkafka's rd_kafka_header_get_last() do; the
//    earlier values of that name are not delivered.
// So a message unibus publishes reads back with exactly its attributes.
struct HeadersDeleter {
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
};
using HeadersPtr = std::unique_ptr<rd_kafka_headers_t, HeadersDeleter>;

// The headers to produce for `attributes`; null when there are none.
HeadersPtr HeadersOf(const std::map<std::string, std::string>& attributes);

// Adds the attributes `headers` (may be null) read as, to `out`.
void ReadHeaders(const rd_kafka_headers_t* headers, std::map<std::string, std::string>* out);

// Fills `out` (a fresh Message) from a consumed record: payload, key as ordering
// key, headers as attributes (ReadHeaders), timestamp, "partition-offset" id. The
// topic is left to the dispatcher, which sets the subscription's on every copy it
// hands out.
void ToMessage(const rd_kafka_message_t* m, Message* out);

}  // namespace unibus::kafka_internal

#endif  // UNIBUS_KAFKA_RECORD_H_
