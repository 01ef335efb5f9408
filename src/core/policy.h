// The contract's rules that sit above the transport, written once: what a publish
// may carry (DESIGN.md 3.9, 3.12) and how a missing topic or subscription is
// reported to each kind of caller.
#ifndef UNIBUS_CORE_POLICY_H_
#define UNIBUS_CORE_POLICY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "unibus/admin.h"
#include "unibus/capabilities.h"
#include "unibus/message.h"
#include "unibus/options.h"

namespace unibus::core_internal {

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates, or code
// points past U+10FFFF).
bool IsValidUtf8(absl::string_view s);

// True for attribute keys that belong to the library (`unibus-*`) and that no
// publisher may set: everything with the prefix except the typed envelope's keys
// (unibus-type, unibus-encoding, unibus-produced-at), which describe the payload
// and which anyone writing a typed message sets, the library's TypedPublisher or a
// person publishing from the console.
bool IsReservedAttribute(absl::string_view key);

// Which call a missing topic is reported to: the hint fits the call.
enum class Caller { kPublisher, kSubscriber };

// NotFound for `topic` missing on `url`, with what this caller can do about it.
absl::Status TopicNotFound(absl::string_view url, absl::string_view topic, Caller caller);
// NotFound for `subscription` missing on `url` when no topic was given to create it.
absl::Status SubscriptionNotFound(absl::string_view url, absl::string_view subscription);

// The subscription a subscriber creates on demand (SubscriberOptions::topic set,
// the subscription missing): the same on every backend. It starts at
// `options.start`, leases for `options.ack_deadline`, orders by key, and carries
// no native dead-letter policy (the library dead-letters, to the topic the
// subscriber's options name at each open).
SubscriptionConfig OnDemandSubscription(const std::string& subscription,
                                        const SubscriberOptions& options);

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_POLICY_H_
