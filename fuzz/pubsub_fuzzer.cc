// FromReceived on any ReceivedMessage a server (or a faulty emulator, or a proxy) can
// send: the bytes are parsed as the wire message, then converted.
#include <cstddef>
#include <cstdint>
#include <string>

#include "pubsub/received.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  google::pubsub::v1::ReceivedMessage rm;
  if (!rm.ParseFromArray(data, static_cast<int>(size))) return 0;
  const std::string payload = rm.message().data();
  const std::size_t attributes = rm.message().attributes_size();
  unibus::Message m;
  unibus::pubsub_internal::FromReceived(&rm, &m);
  if (m.data != payload || m.attributes.size() != attributes) __builtin_trap();
  return 0;
}
