// The one naming rule for topics and subscriptions, the same on every backend.
#ifndef UNIBUS_CORE_NAMES_H_
#define UNIBUS_CORE_NAMES_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace unibus::core_internal {

// OK when `name` is a valid topic or subscription name on every backend: 3-249
// characters from [A-Za-z0-9._-], starting with a letter, not starting with "goog".
// (The intersection of Kafka's and Pub/Sub's rules, so a name works everywhere.)
// Otherwise InvalidArgument naming `kind` ("topic"/"subscription"), the name, and
// the rule.
absl::Status ValidateName(absl::string_view kind, absl::string_view name);

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_NAMES_H_
