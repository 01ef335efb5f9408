// ParseProperties on arbitrary text (a Kafka --config / config_file properties file).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "kafka/properties.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  // Variables named A... are set (to a value no input can contain), the rest are not.
  const unibus::kafka_internal::EnvLookup env =
      [](const std::string& name) -> std::optional<std::string> {
    if (!name.empty() && name[0] == 'A') return std::string("\x01secret\x01");
    return std::nullopt;
  };
  auto p = unibus::kafka_internal::ParseProperties(text, "fuzz.properties", env);
  // An error never prints a value, so never an expanded secret either (unless the
  // input itself holds the same bytes, say in a key, which errors do name).
  constexpr absl::string_view kSecret = "\x01secret\x01";
  if (!p.ok() && p.status().message().find(kSecret) != absl::string_view::npos &&
      text.find(kSecret) == absl::string_view::npos) {
    __builtin_trap();
  }
  return 0;
}
