// unibus.yaml: the config file naming brokers and topics (ConfigFile, in common.h).
#ifndef UNIBUS_CLI_CONFIG_H_
#define UNIBUS_CLI_CONFIG_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cli/common.h"

namespace unibus::cli {

// The largest config file LoadConfig reads (1 MiB); a real one is a few hundred bytes.
inline constexpr std::size_t kMaxConfigBytes = std::size_t{1} << 20;

// Parses the text of a config file:
//
//   default: local                  # optional; must name an entry of brokers
//   brokers: {local: sqlite://unibus.db, prod: kafka://k1:9092}
//   topics: [images, predictions]
//
// `path` names the text in errors. InvalidArgument naming `path` and what is wrong
// when the text is not YAML, is not a mapping, has a top-level key other than these
// three (a typo such as `broker:` would otherwise be ignored), `brokers` does not map
// names to URL strings, `topics` is not a list of strings, or `default` is not a
// listed broker.
absl::StatusOr<ConfigFile> ParseConfig(absl::string_view text, const std::string& path);

}  // namespace unibus::cli

#endif  // UNIBUS_CLI_CONFIG_H_
