// Parsing broker URLs: scheme://authority/path?key=value&...
#ifndef UNIBUS_CORE_URL_H_
#define UNIBUS_CORE_URL_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace unibus::core_internal {

struct Url {
  std::string scheme;                        // "sqlite", "kafka", ...
  std::string body;                          // everything between "://" and "?", percent-decoded
  std::map<std::string, std::string> query;  // decoded query parameters
  std::string original;
};

// Parses `url`. InvalidArgument naming the URL and what is wrong when it has no
// "scheme://", an empty scheme, or a malformed query.
absl::StatusOr<Url> ParseUrl(const std::string& url);

// Returns `url` with the values of query parameters that look secret (password,
// secret, token, key) replaced by "***", for logs and error messages.
std::string RedactUrl(const std::string& url);

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_URL_H_
