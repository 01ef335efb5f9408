// How a message received from Pub/Sub (StreamingPull) becomes a unibus Message.
#ifndef UNIBUS_PUBSUB_RECEIVED_H_
#define UNIBUS_PUBSUB_RECEIVED_H_

#include "google/pubsub/v1/pubsub.pb.h"
#include "unibus/message.h"

namespace unibus::pubsub_internal {

// Moves `received`'s message into `out`: data, attributes, ordering key, message id,
// publish time and delivery attempt (0 unless the subscription counts attempts). The
// topic and the ack id are left to the caller. Total for any input the server sends:
// a publish time outside the range of absl::Time saturates instead of overflowing
// (Timestamp allows years up to 9999, past int64 nanoseconds).
void FromReceived(google::pubsub::v1::ReceivedMessage* received, Message* out);

}  // namespace unibus::pubsub_internal

#endif  // UNIBUS_PUBSUB_RECEIVED_H_
