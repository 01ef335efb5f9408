#include "core/names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace unibus::core_internal {
namespace {

constexpr std::size_t kMaxName = 249;
constexpr char kSuffix[] = ".dead-letter";

// Why `name` breaks the portable rule, or empty.
std::string Breaks(absl::string_view name) {
  if (name.size() < 3) return "too short";
  if (name.size() > kMaxName) return absl::StrCat("too long (", name.size(), " characters)");
  if (!absl::ascii_isalpha(static_cast<unsigned char>(name[0]))) return "must start with a letter";
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return absl::StrCat("character '", absl::string_view(&c, 1), "' is not allowed");
    }
  }
  if (absl::StartsWithIgnoreCase(name, "goog")) return "names starting with 'goog' are reserved";
  return "";
}

constexpr char kRule[] =
    "names unibus creates are 3-249 characters of letters, digits, '.', '_' and '-', starting "
    "with a letter, so that they work on every backend; to create any name this backend "
    "accepts, open the broker with BrokerOptions::portable_names=false (CLI: --any-names; "
    "Python: unibus.open(..., portable_names=False))";

}  // namespace

absl::Status ValidateName(absl::string_view kind, absl::string_view name) {
  const std::string why = Breaks(name);
  if (why.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid ", kind, " name '", name, "': ", why, " (", kRule, ")"));
}

absl::Status ValidateAnyName(absl::string_view kind, absl::string_view name) {
  if (!name.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("the ", kind, " name is empty; give one"));
}

std::string DerivedDeadLetterTopic(absl::string_view subscription) {
  return absl::StrCat(subscription, kSuffix);
}

absl::Status ValidateNewSubscription(absl::string_view subscription,
                                     absl::string_view dead_letter_topic) {
  if (auto s = ValidateName("subscription", subscription); !s.ok()) return s;
  if (!dead_letter_topic.empty()) return ValidateName("dead-letter topic", dead_letter_topic);
  const std::string derived = DerivedDeadLetterTopic(subscription);
  const std::string why = Breaks(derived);
  if (why.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "subscription name '", subscription, "' gives the dead-letter topic '", derived,
      "', which unibus would create and which is invalid: ", why, " (", kRule,
      "); use a subscription name of at most ", kMaxName - (sizeof(kSuffix) - 1),
      " characters, or set the dead-letter topic (SubscriberOptions::dead_letter_topic, "
      "SubscriptionConfig::dead_letter_topic)"));
}

}  // namespace unibus::core_internal
