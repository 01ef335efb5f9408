#include "kafka/properties.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace unibus::kafka_internal {
namespace {

absl::Status LineError(absl::string_view source, int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ":", line, ": ", what));
}

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\f'; }

// One logical line: natural lines joined at their continuation backslashes (removed),
// the leading blanks of each continuation line dropped.
struct LogicalLine {
  std::string text;
  int number = 0;  // of its first natural line
};

// Splits `text` into logical lines by java.util.Properties' rules, skipping blank and
// comment lines.
std::vector<LogicalLine> LogicalLines(absl::string_view text) {
  std::vector<LogicalLine> out;
  LogicalLine current;
  bool continuing = false;
  int number = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    // The next natural line: [pos, end), terminated by \n, \r or \r\n.
    std::size_t end = pos;
    while (end < text.size() && text[end] != '\n' && text[end] != '\r') ++end;
    absl::string_view line = text.substr(pos, end - pos);
    pos = end;
    if (pos < text.size()) {
      const bool crlf = text[pos] == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n';
      pos += crlf ? 2 : 1;
    }
    ++number;
    std::size_t first = 0;
    while (first < line.size() && IsBlank(line[first])) ++first;
    line.remove_prefix(first);
    if (!continuing) {
      if (line.empty() || line[0] == '#' || line[0] == '!') continue;
      current = LogicalLine{.text = {}, .number = number};
    }
    std::size_t backslashes = 0;
    while (backslashes < line.size() && line[line.size() - 1 - backslashes] == '\\') ++backslashes;
    continuing = backslashes % 2 == 1;
    if (continuing) line.remove_suffix(1);
    current.text.append(line.data(), line.size());
    if (!continuing) {
      out.push_back(std::move(current));
      current = LogicalLine{};
    }
  }
  if (continuing) out.push_back(std::move(current));  // a continuation at the end of the text
  return out;
}

void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// Reads the four hex digits of a \uXXXX escape at text[*i] (just after the 'u').
bool ReadHex4(absl::string_view text, std::size_t* i, char32_t* out) {
  if (*i + 4 > text.size()) return false;
  char32_t v = 0;
  for (std::size_t k = 0; k < 4; ++k) {
    const char c = text[*i + k];
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    v = v * 16 + static_cast<char32_t>(d);
  }
  *i += 4;
  *out = v;
  return true;
}

// Unescapes text[*i...] into `out` until an unescaped character for which `stop` is
// true (left at *i) or the end. `escaped_end` gets out's size after its last escaped
// character (so trailing blanks before it are kept). False for a malformed \uXXXX.
template <typename Stop>
bool Unescape(absl::string_view text, std::size_t* i, Stop stop, std::string* out,
              std::size_t* escaped_end) {
  while (*i < text.size()) {
    char c = text[*i];
    if (c != '\\') {
      if (stop(c)) return true;
      out->push_back(c);
      ++*i;
      continue;
    }
    if (++*i == text.size()) return true;  // a lone backslash at the very end: dropped
    c = text[(*i)++];
    switch (c) {
      case 't':
        out->push_back('\t');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'u': {
        char32_t u;
        if (!ReadHex4(text, i, &u)) return false;
        if (u >= 0xD800 && u <= 0xDBFF) {  // a UTF-16 surrogate pair: \uD83D\uDE00
          char32_t low;
          if (text.substr(*i, 2) != "\\u") return false;
          *i += 2;
          if (!ReadHex4(text, i, &low) || low < 0xDC00 || low > 0xDFFF) return false;
          u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
          return false;
        }
        AppendUtf8(u, out);
        break;
      }
      default:
        out->push_back(c);
    }
    *escaped_end = out->size();
  }
  return true;
}

// Replaces ${NAME} by the environment variable NAME. Errors name the key, never the
// value (it may hold a secret).
absl::StatusOr<std::string> Expand(absl::string_view value, absl::string_view key,
                                   absl::string_view source, int line, const EnvLookup& env) {
  std::string out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value.substr(i, 3) == "$${") {
      out += "${";
      i += 2;
      continue;
    }
    if (value.substr(i, 2) != "${") {
      out.push_back(value[i]);
      continue;
    }
    const std::size_t close = value.find('}', i + 2);
    if (close == absl::string_view::npos) {
      return LineError(
          source, line,
          absl::StrCat("the value of ", key,
                       " has a '${' without a closing '}' (write $${ for a literal ${)"));
    }
    const std::string name(value.substr(i + 2, close - i - 2));
    if (name.empty()) {
      return LineError(source, line, absl::StrCat("the value of ", key, " has an empty '${}'"));
    }
    auto v = env(name);
    if (!v.has_value()) {
      return LineError(source, line,
                       absl::StrCat("environment variable ", name, " is not set (referenced as ${",
                                    name, "} by ", key, "); export it before starting"));
    }
    out += *v;
    i = close;
  }
  return out;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

absl::StatusOr<std::map<std::string, std::string>> ParseProperties(absl::string_view text,
                                                                   absl::string_view source,
                                                                   const EnvLookup& env) {
  std::map<std::string, std::string> out;
  for (const LogicalLine& line : LogicalLines(text)) {
    const absl::string_view t = line.text;
    std::size_t i = 0;
    std::string key;
    std::size_t unused = 0;
    if (!Unescape(
            t, &i, [](char c) { return c == '=' || c == ':' || IsBlank(c); }, &key, &unused)) {
      return LineError(source, line.number, "malformed \\uXXXX escape in a key");
    }
    while (i < t.size() && IsBlank(t[i])) ++i;
    if (i < t.size() && (t[i] == '=' || t[i] == ':')) ++i;
    while (i < t.size() && IsBlank(t[i])) ++i;
    if (key.empty()) {
      return LineError(source, line.number,
                       "missing key: the line starts with '=' or ':'; write key=value");
    }
    std::string value;
    std::size_t escaped_end = 0;
    if (!Unescape(
            t, &i, [](char) { return false; }, &value, &escaped_end)) {
      return LineError(source, line.number,
                       absl::StrCat("malformed \\uXXXX escape in the value of ", key));
    }
    std::size_t keep = value.size();
    while (keep > escaped_end && IsBlank(value[keep - 1])) --keep;
    value.resize(keep);
    auto expanded = Expand(value, key, source, line.number, env);
    if (!expanded.ok()) return expanded.status();
    out.insert_or_assign(std::move(key), *std::move(expanded));
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> LoadPropertiesFile(const std::string& path,
                                                                      const EnvLookup& env) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read Kafka properties file '", path, "'; check the config_file path"));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return ParseProperties(buf.str(), path, env);
}

}  // namespace unibus::kafka_internal
