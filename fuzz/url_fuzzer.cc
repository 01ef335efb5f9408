// ParseUrl and RedactUrl on arbitrary bytes (every --url, $UNIBUS_URL, config entry).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/url.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string url(reinterpret_cast<const char*>(data), size);
  auto parsed = unibus::core_internal::ParseUrl(url);
  const std::string redacted = unibus::core_internal::RedactUrl(url);
  // Redaction is a fixed point: redacting twice changes nothing.
  if (unibus::core_internal::RedactUrl(redacted) != redacted) __builtin_trap();
  // A parsed URL's error-free parts survive redaction's parse too.
  if (parsed.ok()) (void)unibus::core_internal::ParseUrl(redacted);
  return 0;
}
