// Parsing broker URLs: scheme://authority/path?key=value&...
#ifndef UNIBUS_CORE_URL_H_
#define UNIBUS_CORE_URL_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace unibus::core_internal {

struct Url {
  std::string scheme;                        // "sqlite", "kafka", ...
  std::string body;                          // everything between "://" and "?", percent-decoded
  std::map<std::string, std::string> query;  // decoded query parameters
  std::string original;
};

// Parses `url` in time linear in its length (any number of query parameters; a
// repeated key keeps its last value). InvalidArgument naming the URL (redacted, see
// RedactUrl) and what is wrong when it has no "scheme://", an empty scheme, a '%' not
// followed by two hex digits, or a query parameter that is not key=value (named by
// its position; its text is shown only when it does not look secret).
absl::StatusOr<Url> ParseUrl(const std::string& url);

// Whether the value of a parameter (URL query, Kafka property) named `key` must not be
// shown: `key` contains password, secret, token or key, case-insensitively.
bool LooksSecret(absl::string_view key);

// Returns `url` for logs and error messages, with "***" in place of: the value of
// every query parameter whose percent-decoded key contains password, secret, token or
// key (case-insensitive), or whose key cannot be decoded; a parameter without '=' that
// looks secret; and the password of a user:password@ authority. Linear time.
std::string RedactUrl(const std::string& url);

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_URL_H_
