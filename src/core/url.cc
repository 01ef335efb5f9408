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

absl::StatusOr<std::string> Decode(absl::string_view s, const std::string& url) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("malformed URL '", url, "': '%' must be followed by two hex digits"));
      }
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("malformed URL '", url, "': '%' must be followed by two hex digits"));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool LooksSecret(absl::string_view key) {
  std::string k = absl::AsciiStrToLower(key);
  return absl::StrContains(k, "password") || absl::StrContains(k, "secret") ||
         absl::StrContains(k, "token") || absl::StrContains(k, "key");
}

}  // namespace

absl::StatusOr<Url> ParseUrl(const std::string& url) {
  auto sep = url.find("://");
  if (sep == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed URL '", RedactUrl(url),
        "': expected SCHEME://..., e.g. sqlite://unibus.db, mem://, kafka://localhost:9092, "
        "pubsub://my-project"));
  }
  Url u;
  u.original = url;
  u.scheme = absl::AsciiStrToLower(url.substr(0, sep));
  if (u.scheme.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed URL '", RedactUrl(url), "': the scheme before '://' is empty"));
  }
  for (char c : u.scheme) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed URL '", RedactUrl(url), "': invalid character in scheme"));
    }
  }
  std::string rest = url.substr(sep + 3);
  std::string query;
  if (auto q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest.resize(q);
  }
  auto body = Decode(rest, RedactUrl(url));
  if (!body.ok()) return body.status();
  u.body = *std::move(body);
  if (!query.empty()) {
    for (absl::string_view kv : absl::StrSplit(query, '&', absl::SkipEmpty())) {
      auto eq = kv.find('=');
      if (eq == absl::string_view::npos || eq == 0) {
        return absl::InvalidArgumentError(absl::StrCat("malformed URL '", RedactUrl(url),
                                                       "': query parameter '", kv,
                                                       "' must look like key=value"));
      }
      auto k = Decode(kv.substr(0, eq), RedactUrl(url));
      if (!k.ok()) return k.status();
      auto v = Decode(kv.substr(eq + 1), RedactUrl(url));
      if (!v.ok()) return v.status();
      u.query[*k] = *v;
    }
  }
  return u;
}

std::string RedactUrl(const std::string& url) {
  auto q = url.find('?');
  if (q == std::string::npos) return url;
  std::string out = url.substr(0, q + 1);
  bool first = true;
  for (absl::string_view kv : absl::StrSplit(url.substr(q + 1), '&')) {
    if (!first) out += '&';
    first = false;
    auto eq = kv.find('=');
    if (eq != absl::string_view::npos && LooksSecret(kv.substr(0, eq))) {
      absl::StrAppend(&out, kv.substr(0, eq), "=***");
    } else {
      absl::StrAppend(&out, kv);
    }
  }
  return out;
}

}  // namespace unibus::core_internal
