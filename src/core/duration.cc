#include "core/duration.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace unibus::core_internal {
namespace {

absl::Status NotADuration(absl::string_view text) {
  return absl::InvalidArgumentError(
      absl::StrCat("'", text, "' is not a duration; use e.g. 500ms, 10s, 5m, 2h, 7d"));
}

absl::Status Negative(absl::string_view text) {
  return absl::InvalidArgumentError(
      absl::StrCat("duration '", text, "' is negative; use 0 or more"));
}

absl::Status TooLong(absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat(
      "duration '", text, "' is longer than the maximum of ", kMaxDurationDays, "d (100 years)"));
}

// `number` (days or seconds, as written) checked against [0, max] before any arithmetic.
absl::StatusOr<double> InRange(absl::string_view text, absl::string_view number, double max) {
  double v;
  if (!absl::SimpleAtod(number, &v) || std::isnan(v)) return NotADuration(text);
  if (v < 0) return Negative(text);
  if (v > max) return TooLong(text);  // also +inf
  return v;
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return NotADuration(text);
  if (absl::EndsWith(text, "d")) {
    const absl::string_view number = text.substr(0, text.size() - 1);
    int64_t whole;
    if (absl::SimpleAtoi(number, &whole)) {
      if (whole < 0) return Negative(text);
      if (whole > kMaxDurationDays) return TooLong(text);
      return absl::Hours(24 * whole);
    }
    absl::StatusOr<double> days = InRange(text, number, static_cast<double>(kMaxDurationDays));
    if (!days.ok()) return days.status();
    return absl::Seconds(*days * 86400.0);
  }
  if (absl::Duration d; absl::ParseDuration(text, &d)) {
    // absl saturates overflowing values to +/-infinity, so the checks see them.
    if (d < absl::ZeroDuration()) return Negative(text);
    if (d > kMaxDuration) return TooLong(text);
    return d;
  }
  // absl refuses a number too large for its unit ("99999999999999999999h"): say so.
  for (const auto& [unit, seconds] : {std::pair<absl::string_view, double>{"ns", 1e-9},
                                      {"us", 1e-6},
                                      {"ms", 1e-3},
                                      {"s", 1},
                                      {"m", 60},
                                      {"h", 3600}}) {
    double v;
    if (absl::EndsWith(text, unit) &&
        absl::SimpleAtod(text.substr(0, text.size() - unit.size()), &v) && !std::isnan(v) &&
        std::fabs(v) * seconds > absl::ToDoubleSeconds(kMaxDuration)) {
      return v < 0 ? Negative(text) : TooLong(text);
    }
  }
  absl::StatusOr<double> secs = InRange(text, text, absl::ToDoubleSeconds(kMaxDuration));
  if (!secs.ok()) return secs.status();
  return absl::Seconds(*secs);
}

absl::Status CheckDuration(absl::string_view option, absl::Duration d, bool zero_ok,
                           bool infinite_ok, absl::string_view hint) {
  const std::string note = hint.empty() ? "" : absl::StrCat(" (", hint, ")");
  if (!infinite_ok && (d == absl::InfiniteDuration() || d == -absl::InfiniteDuration())) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, " must be finite", note, ", got ", absl::FormatDuration(d)));
  }
  if (d < absl::ZeroDuration() || (!zero_ok && d == absl::ZeroDuration())) {
    return absl::InvalidArgumentError(absl::StrCat(option, " must be ", zero_ok ? ">= 0" : "> 0",
                                                   note, ", got ", absl::FormatDuration(d)));
  }
  return absl::OkStatus();
}

}  // namespace unibus::core_internal
