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

// Parses `text` as a properties file by the rules of java.util.Properties.load:
// lines end at \n, \r or \r\n; a line whose first non-blank character is '#' or '!'
// is a comment; blank lines are skipped; a line ending in an odd number of
// backslashes continues on the next (whose leading blanks are dropped). The key runs
// from the first non-blank character to the first unescaped '=', ':' or blank; blanks
// and one '=' or ':' after it separate it from the value ("key=value", "key: value",
// "key value" and a bare "key" with an empty value are all valid). In keys and values
// \t \n \r \f and \uXXXX are escapes, and a backslash before any other character
// stands for that character ("C:\\" is C:\). As Kafka's own clients trim values,
// trailing blanks of a value are dropped (an escaped one, "\ ", is kept). A repeated
// key keeps its last value.
//
// unibus adds: `${NAME}` in a value is replaced by the environment variable NAME (so
// secrets stay out of the file); `$${` is a literal `${`. `source` names the text in
// error messages (a path).
//
// InvalidArgument naming `source`, the line number and the key (never a value, which
// may be a secret) for an empty key, a malformed \uXXXX escape, an unterminated
// `${`, or a `${NAME}` that is not set.
absl::StatusOr<std::map<std::string, std::string>> ParseProperties(absl::string_view text,
                                                                   absl::string_view source,
                                                                   const EnvLookup& env);

// Reads and parses the file at `path`. NotFound when it cannot be read.
absl::StatusOr<std::map<std::string, std::string>> LoadPropertiesFile(const std::string& path,
                                                                      const EnvLookup& env);

}  // namespace unibus::kafka_internal

#endif  // UNIBUS_KAFKA_PROPERTIES_H_
