// ParseToken on arbitrary bytes: a delivery token comes back from the user's AckHandler
// (and from other processes' commit metadata); anything that parses must round-trip.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kafka/record.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string token(reinterpret_cast<const char*>(data), size);
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::uint64_t epoch = 0;
  if (unibus::kafka_internal::ParseToken(token, &partition, &offset, &epoch)) {
    if (epoch > 0xFFFFFF) __builtin_trap();
    if (unibus::kafka_internal::TokenOf(partition, offset, epoch) != token) __builtin_trap();
  }
  return 0;
}
