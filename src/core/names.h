// The naming rules for topics and subscriptions (DESIGN.md 3.10): the portable rule
// for what unibus creates, and any name the backend accepts for what exists.
#ifndef UNIBUS_CORE_NAMES_H_
#define UNIBUS_CORE_NAMES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace unibus::core_internal {

// OK when `name` is a valid topic or subscription name on every backend: 3-249
// characters from [A-Za-z0-9._-], starting with a letter, not starting with "goog".
// (The intersection of Kafka's and Pub/Sub's rules, so a name works everywhere.)
// Otherwise InvalidArgument naming `kind` ("topic"/"subscription"), the name, and
// the rule. Applied to the names unibus creates, unless
// BrokerOptions::portable_names is false.
absl::Status ValidateName(absl::string_view kind, absl::string_view name);

// OK when `name` may be handed to a backend at all (it is not empty). Existing
// resources are reachable by any name their backend accepts; the backend answers
// NotFound or InvalidArgument for the rest.
absl::Status ValidateAnyName(absl::string_view kind, absl::string_view name);

// The dead-letter topic a subscription uses when none is given:
// "<subscription>.dead-letter".
std::string DerivedDeadLetterTopic(absl::string_view subscription);

// OK when subscription `subscription`, and the dead-letter topic unibus will create
// for it (`dead_letter_topic`, or the derived name when empty), follow the portable
// rule. The error says which name breaks which rule and what to do (a shorter
// subscription name, or an explicit dead-letter topic).
absl::Status ValidateNewSubscription(absl::string_view subscription,
                                     absl::string_view dead_letter_topic);

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_NAMES_H_
