#include "cli/config.h"

#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace unibus::cli {

absl::StatusOr<ConfigFile> ParseConfig(absl::string_view text, const std::string& path) {
  ConfigFile cfg;
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": expected a mapping with 'brokers:' and 'topics:'"));
    }
    // A misspelt key ("broker:", "topic:") would otherwise be ignored without a word,
    // and the command would run against the default broker.
    for (auto it : root) {
      const std::string key = it.first.IsScalar() ? it.first.as<std::string>() : "";
      if (key != "default" && key != "brokers" && key != "topics") {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": unknown key '", key.empty() ? "(not a name)" : key,
                         "' at the top level; the keys are 'default', 'brokers' and 'topics'"));
      }
    }
    if (auto d = root["default"]) {
      if (!d.IsScalar())
        return absl::InvalidArgumentError(absl::StrCat(path, ": 'default' must be a broker name"));
      cfg.default_broker = d.as<std::string>();
    }
    if (auto b = root["brokers"]) {
      if (!b.IsMap())
        return absl::InvalidArgumentError(absl::StrCat(path, ": 'brokers' must map names to URLs"));
      for (auto it : b) {
        if (!it.first.IsScalar() || !it.second.IsScalar()) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": 'brokers' must map names to URLs (name: URL, one per line)"));
        }
        cfg.brokers[it.first.as<std::string>()] = it.second.as<std::string>();
      }
    }
    if (auto t = root["topics"]) {
      if (!t.IsSequence())
        return absl::InvalidArgumentError(absl::StrCat(path, ": 'topics' must be a list"));
      for (auto it : t) {
        if (!it.IsScalar())
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": 'topics' must be a list of topic names"));
        cfg.topics.push_back(it.as<std::string>());
      }
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  }
  if (!cfg.default_broker.empty() && !cfg.brokers.count(cfg.default_broker)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": default broker '", cfg.default_broker,
                                                   "' is not listed under 'brokers'"));
  }
  return cfg;
}

absl::StatusOr<ConfigFile> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("config file '", path, "' cannot be read"));
  std::string text;
  char buf[64 << 10];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxConfigBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config file '", path, "' is over ", kMaxConfigBytes, " bytes; is it the right file?"));
    }
  }
  if (in.bad()) return absl::NotFoundError(absl::StrCat("config file '", path, "' cannot be read"));
  return ParseConfig(text, path);
}

}  // namespace unibus::cli
