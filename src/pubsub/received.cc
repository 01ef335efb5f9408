#include "pubsub/received.h"

#include <utility>

namespace unibus::pubsub_internal {

void FromReceived(google::pubsub::v1::ReceivedMessage* received, Message* out) {
  google::pubsub::v1::PubsubMessage* pm = received->mutable_message();
  out->data = std::move(*pm->mutable_data());
  for (auto& [k, v] : *pm->mutable_attributes()) out->attributes.emplace(k, std::move(v));
  out->ordering_key = std::move(*pm->mutable_ordering_key());
  out->id = std::move(*pm->mutable_message_id());
  // Not TimeUtil::TimestampToNanoseconds: seconds * 1e9 overflows int64 past 2262.
  out->publish_time = absl::FromUnixSeconds(pm->publish_time().seconds()) +
                      absl::Nanoseconds(pm->publish_time().nanos());
  out->delivery_attempt = received->delivery_attempt();
}

}  // namespace unibus::pubsub_internal
