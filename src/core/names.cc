#include "core/names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace unibus::core_internal {

absl::Status ValidateName(absl::string_view kind, absl::string_view name) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid ", kind, " name '", name, "': ", why,
        " (names are 3-249 characters of letters, digits, '.', '_' and '-', starting with a "
        "letter, so that they work on every backend)"));
  };
  if (name.size() < 3) return bad("too short");
  if (name.size() > 249) return bad("too long");
  if (!absl::ascii_isalpha(static_cast<unsigned char>(name[0])))
    return bad("must start with a letter");
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return bad(absl::StrCat("character '", absl::string_view(&c, 1), "' is not allowed"));
    }
  }
  if (absl::StartsWithIgnoreCase(name, "goog"))
    return bad("names starting with 'goog' are reserved");
  return absl::OkStatus();
}

}  // namespace unibus::core_internal
