// ParseConfig on arbitrary text (unibus.yaml, --config FILE).
#include <cstddef>
#include <cstdint>

#include "cli/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > unibus::cli::kMaxConfigBytes) return 0;  // LoadConfig refuses larger files
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto cfg = unibus::cli::ParseConfig(text, "unibus.yaml");
  if (cfg.ok() && !cfg->default_broker.empty() && !cfg->brokers.count(cfg->default_broker)) {
    __builtin_trap();  // the default must be a listed broker
  }
  return 0;
}
