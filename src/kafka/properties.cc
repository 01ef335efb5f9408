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

// Replaces ${NAME} by the environment variable NAME.
absl::StatusOr<std::string> Expand(absl::string_view value, absl::string_view source, int line,
                                   const EnvLookup& env) {
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
      return LineError(source, line, absl::StrCat("unterminated '${' in value '", value, "'"));
    }
    const std::string name(value.substr(i + 2, close - i - 2));
    if (name.empty()) return LineError(source, line, "empty variable name in '${}'");
    auto v = env(name);
    if (!v.has_value()) {
      return LineError(source, line,
                       absl::StrCat("environment variable ", name, " is not set (referenced as ${",
                                    name, "}); export it before starting"));
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
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const int number = static_cast<int>(i) + 1;
    std::string logical(absl::StripAsciiWhitespace(lines[i]));
    if (logical.empty() || logical[0] == '#' || logical[0] == '!') continue;
    // A trailing backslash continues the line (leading whitespace of the next dropped).
    while (!logical.empty() && logical.back() == '\\' && i + 1 < lines.size()) {
      logical.pop_back();
      absl::StrAppend(&logical, absl::StripAsciiWhitespace(lines[++i]));
    }
    const std::size_t sep = logical.find_first_of("=:");
    if (sep == std::string::npos) {
      return LineError(source, number, absl::StrCat("expected 'key=value', got '", logical, "'"));
    }
    std::string key(absl::StripAsciiWhitespace(absl::string_view(logical).substr(0, sep)));
    if (key.empty())
      return LineError(source, number,
                       absl::StrCat("missing key before '", std::string(1, logical[sep]), "'"));
    auto value = Expand(absl::StripAsciiWhitespace(absl::string_view(logical).substr(sep + 1)),
                        source, number, env);
    if (!value.ok()) return value.status();
    out[std::move(key)] = *std::move(value);
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
