// Durations written by a person: on the command line (--retention 7d, --timeout 500ms)
// and in configuration.
#ifndef UNIBUS_CORE_DURATION_H_
#define UNIBUS_CORE_DURATION_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace unibus::core_internal {

// The longest duration ParseDuration accepts: 36500 days (100 years). Longer values
// are almost certainly typos, and the arithmetic of every backend (Kafka's
// retention.ms, Pub/Sub's Duration, SQLite's milliseconds) stays exact below it.
inline constexpr int64_t kMaxDurationDays = 36500;
inline constexpr absl::Duration kMaxDuration = absl::Hours(24 * kMaxDurationDays);

// Parses `text`: an absl duration ("250ms", "10s", "1.5h", "2h30m"), a number of days
// ("7d", "0.5d"), or a plain number of seconds ("30", "0.25"). The result is in
// [0, kMaxDuration]. InvalidArgument naming the text and the rule when it is not a
// duration, is negative, is infinite or not a number, or is longer than kMaxDuration
// (the message names the maximum). Never overflows: the range is checked before any
// arithmetic on the number.
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text);

// `d` as the value of an option or setting named `option` (e.g.
// "SubscriberOptions::ack_deadline", "topic 'orders': retention"): not negative (and,
// unless `zero_ok`, above zero), and finite unless `infinite_ok`, since for most
// settings an infinite deadline or delay means "never" (a lease never expiring, a
// publish never sent). InvalidArgument "<option> must be finite|>= 0|> 0, got <d>";
// `hint`, when not empty, is added in parentheses (e.g. what 0 means).
absl::Status CheckDuration(absl::string_view option, absl::Duration d, bool zero_ok = true,
                           bool infinite_ok = false, absl::string_view hint = "");

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_DURATION_H_
