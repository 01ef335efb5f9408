#include "core/url.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace unibus::core_internal {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(absl::ascii_tolower(static_cast<unsigned char>(c)));
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

absl::Status Malformed(const std::string& url, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed URL '", RedactUrl(url), "': ", what));
}

constexpr absl::string_view kBadPercent = "'%' must be followed by two hex digits";

// Percent-decodes `s`; false on a '%' not followed by two hex digits.
bool Decode(absl::string_view s, std::string* out) {
  out->clear();
  out->reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out->push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return false;
    const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// Whether the value of the query parameter whose raw (still percent-encoded) key is
// `raw_key` must be hidden: its decoded key looks secret, or it cannot be decoded (so
// nobody can tell what it is).
bool HideValue(absl::string_view raw_key) {
  std::string decoded;
  return !Decode(raw_key, &decoded) || LooksSecret(decoded);
}

}  // namespace

bool LooksSecret(absl::string_view key) {
  std::string k = absl::AsciiStrToLower(key);
  return absl::StrContains(k, "password") || absl::StrContains(k, "secret") ||
         absl::StrContains(k, "token") || absl::StrContains(k, "key");
}

// Linear in the URL's length: every parameter is looked at once, and the (redacted)
// URL is only built for an error.
absl::StatusOr<Url> ParseUrl(const std::string& url) {
  auto sep = url.find("://");
  if (sep == std::string::npos) {
    return Malformed(url,
                     "expected SCHEME://..., e.g. sqlite://unibus.db, mem://, "
                     "kafka://localhost:9092, pubsub://my-project");
  }
  Url u;
  u.original = url;
  u.scheme = absl::AsciiStrToLower(url.substr(0, sep));
  if (u.scheme.empty()) return Malformed(url, "the scheme before '://' is empty");
  for (char c : u.scheme) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return Malformed(url, "invalid character in scheme");
    }
  }
  absl::string_view rest = absl::string_view(url).substr(sep + 3);
  absl::string_view query;
  if (auto q = rest.find('?'); q != absl::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (!Decode(rest, &u.body)) return Malformed(url, kBadPercent);
  std::size_t index = 0;
  std::string key, value;
  for (absl::string_view kv : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    ++index;
    const std::size_t eq = kv.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      // Without '=' nobody can tell a key from a secret: name the parameter by position,
      // and show its text only when it does not look secret.
      return Malformed(url, absl::StrCat("query parameter ", index,
                                         HideValue(kv) ? "" : absl::StrCat(" '", kv, "'"),
                                         " must look like key=value"));
    }
    if (!Decode(kv.substr(0, eq), &key) || !Decode(kv.substr(eq + 1), &value)) {
      return Malformed(url, kBadPercent);
    }
    u.query.insert_or_assign(key, value);
  }
  return u;
}

std::string RedactUrl(const std::string& url) {
  std::string out;
  out.reserve(url.size());
  absl::string_view rest = url;
  absl::string_view query;
  bool has_query = false;
  if (auto q = rest.find('?'); q != absl::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    has_query = true;
  }
  // scheme://user:password@host -> scheme://user:***@host
  const std::size_t sep = rest.find("://");
  const std::size_t authority = sep == absl::string_view::npos ? 0 : sep + 3;
  const std::size_t at = rest.rfind('@');
  const std::size_t colon = at == absl::string_view::npos || at < authority
                                ? absl::string_view::npos
                                : rest.substr(0, at).find(':', authority);
  if (colon != absl::string_view::npos) {
    absl::StrAppend(&out, rest.substr(0, colon + 1), "***", rest.substr(at));
  } else {
    absl::StrAppend(&out, rest);
  }
  if (!has_query) return out;
  out += '?';
  bool first = true;
  for (absl::string_view kv : absl::StrSplit(query, '&')) {
    if (!first) out += '&';
    first = false;
    const std::size_t eq = kv.find('=');
    if (eq == absl::string_view::npos) {
      absl::StrAppend(&out, HideValue(kv) ? "***" : kv);
    } else if (HideValue(kv.substr(0, eq))) {
      absl::StrAppend(&out, kv.substr(0, eq), "=***");
    } else {
      absl::StrAppend(&out, kv);
    }
  }
  return out;
}

}  // namespace unibus::core_internal
