// Java-style .properties files (the client.properties Confluent Cloud and Kafka's
// own tools use), read into librdkafka configuration.
#ifndef UNIBUS_KAFKA_PROPERTIES_H_
#define UNIBUS_KAFKA_PROPERTIES_H_

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace unibus::kafka_internal {

// Looks up an environment variable; nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The process environment (std::getenv).
EnvLookup ProcessEnv();

// Parses `text` as a properties file: `key=value` or `key: value` lines, `#` and
// `!` comments, blank lines, surrounding whitespace trimmed, a trailing backslash
// continuing the value on the next line. `${NAME}` in a value is replaced by the
// environment variable NAME (so secrets stay out of the file); `$${` is a literal
// `${`. `source` names the text in error messages (a path).
//
// InvalidArgument naming `source` and the line number for a line with no key, an
// unterminated `${`, or a `${NAME}` that is not set.
absl::StatusOr<std::map<std::string, std::string>> ParseProperties(absl::string_view text,
                                                                   absl::string_view source,
                                                                   const EnvLookup& env);

// Reads and parses the file at `path`. NotFound when it cannot be read.
absl::StatusOr<std::map<std::string, std::string>> LoadPropertiesFile(const std::string& path,
                                                                      const EnvLookup& env);

}  // namespace unibus::kafka_internal

#endif  // UNIBUS_KAFKA_PROPERTIES_H_
