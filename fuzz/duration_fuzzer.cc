// ParseDuration on arbitrary text (--retention, --timeout, --ack-deadline, ...).
#include <cstddef>
#include <cstdint>

#include "core/duration.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto d = unibus::core_internal::ParseDuration(text);
  if (d.ok() && (*d < absl::ZeroDuration() || *d > unibus::core_internal::kMaxDuration)) {
    __builtin_trap();  // out of the documented range
  }
  return 0;
}
