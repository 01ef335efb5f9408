// The copy of a message the dispatcher publishes to a dead-letter topic.
#ifndef UNIBUS_CORE_DEAD_LETTER_H_
#define UNIBUS_CORE_DEAD_LETTER_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "unibus/message.h"

namespace unibus::core_internal {

// The longest kDeadLetterReason value, in bytes: Pub/Sub's limit for an attribute
// value, so that the copy is deliverable on every backend.
inline constexpr std::size_t kMaxDeadLetterReasonBytes = 1024;

// Where a user's own value of an attribute the library sets on the copy is kept:
// "unibus-original-unibus-dead-letter-reason" and so on.
inline constexpr char kOriginalAttributePrefix[] = "unibus-original-";

// The most the library's attributes add to a message's ByteSize() in its
// dead-letter copy: the four keys, a reason of at most kMaxDeadLetterReasonBytes,
// topic and subscription names of at most 255 bytes (the longest any backend
// allows) and the attempt count, plus the prefixes of user values kept aside.
inline constexpr std::size_t kMaxDeadLetterOverheadBytes = 2048;

struct DeadLetterInfo {
  std::string_view reason;               // why the message failed (any bytes)
  std::string_view source_topic;         // the topic it was read from
  std::string_view source_subscription;  // the subscription that gave up on it
  int delivery_attempts = 0;             // how often it was delivered
};

// Returns `reason` as an attribute value of at most `max_bytes` bytes: bytes that
// are not UTF-8 become '?', and a longer reason is cut at a character boundary and
// ends in "..." (when `max_bytes` leaves room for it).
std::string BoundedReason(std::string_view reason, std::size_t max_bytes);

// Builds the message to publish to the dead-letter topic: `original`'s data,
// attributes and ordering key, plus kDeadLetterReason (BoundedReason of
// info.reason), kDeadLetterSourceTopic, kDeadLetterSourceSubscription and
// kDeadLetterAttempts. A user attribute with one of those four names is never
// overwritten: its value moves to kOriginalAttributePrefix + name (the prefix is
// repeated while that name is taken too). The reason is cut further when needed so
// that the copy's ByteSize() is at most `max_message_bytes`. Errors:
// InvalidArgument when the copy cannot fit even with an empty reason (the message
// is too close to the limit), naming both sizes. Pure: no I/O, no locks.
absl::StatusOr<Message> BuildDeadLetterCopy(Message original, const DeadLetterInfo& info,
                                            std::size_t max_message_bytes);

// True for a dead-letter publish error that retrying cannot fix (the copy is
// refused, the topic cannot be created or written): anything but Unavailable,
// DeadlineExceeded, Aborted, ResourceExhausted, Internal and Unknown.
bool IsPermanentDeadLetterError(const absl::Status& status);

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_DEAD_LETTER_H_
