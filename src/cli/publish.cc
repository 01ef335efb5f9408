// unibus publish --topic T [--key K] [--attr k=v]... [--json] [MESSAGE...]
// Messages come from the arguments, or one per line of standard input.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/common.h"
#include "cli/subcommands.h"
#include "nlohmann/json.hpp"

namespace unibus::cli {
namespace {

struct PublishOptions {
  BrokerFlags broker;
  std::string topic;
  std::string key;
  std::vector<std::string> attrs;
  bool json = false;
  bool create_topic = false;
  bool allow_reserved = false;
  std::vector<std::string> messages;
};

int run_publish(const PublishOptions& o) {
  std::map<std::string, std::string> attributes;
  for (const auto& a : o.attrs) {
    auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Fail(
          absl::InvalidArgumentError(absl::StrCat("--attr '", a, "' must look like key=value")));
    }
    attributes[a.substr(0, eq)] = a.substr(eq + 1);
  }
  if (o.json) attributes["content-type"] = "application/json";
  auto broker = OpenBroker(o.broker);
  if (!broker.ok()) return Fail(broker.status());
  auto publisher =
      broker->publisher(o.topic, PublisherOptions{.create_topic_if_missing = o.create_topic,
                                                  .allow_reserved_attributes = o.allow_reserved});
  if (!publisher.ok()) return Fail(publisher.status());

  // Validate every message before sending any, so bad input publishes nothing.
  std::vector<std::string> lines = o.messages;
  if (lines.empty()) {
    for (std::string line; std::getline(std::cin, line);) {
      if (!line.empty()) lines.push_back(line);
    }
  }
  if (o.json) {
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (!nlohmann::json::accept(lines[i])) {
        return Fail(absl::InvalidArgumentError(
            absl::StrCat("message ", i + 1, " is not valid JSON (--json): ", lines[i].substr(0, 80),
                         "; nothing was published")));
      }
    }
  }
  std::vector<PublishFuture> futures;
  futures.reserve(lines.size());
  for (auto& line : lines) {
    Message m;
    m.data = std::move(line);
    m.attributes = attributes;
    m.ordering_key = o.key;
    futures.push_back(publisher->Publish(std::move(m)));
  }
  (void)publisher->Flush();
  int failed = 0;
  absl::Status first;
  for (auto& f : futures) {
    const auto& r = f.get();
    if (r.ok()) {
      std::cout << *r << "\n";
    } else {
      if (failed++ == 0) first = r.status();
    }
  }
  publisher->Shutdown();
  if (failed > 0) {
    return Fail(
        absl::Status(first.code(), absl::StrCat(failed, " of ", futures.size(),
                                                " message(s) not published: ", first.message())));
  }
  return 0;
}

}  // namespace

void setup_publish(CLI::App& app) {
  auto opts = std::make_shared<PublishOptions>();
  auto* cmd =
      app.add_subcommand("publish", "publish messages from arguments or stdin (one per line)");
  cmd->add_option("--topic,-t", opts->topic, "topic")->required();
  cmd->add_option("--key,-k", opts->key, "ordering key (Kafka message key)");
  cmd->add_option("--attr,-a", opts->attrs, "attribute key=value (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("--json", opts->json,
                "messages are JSON: validated, content-type application/json");
  cmd->add_flag("--create-topic", opts->create_topic, "create the topic if it does not exist");
  cmd->add_flag("--allow-reserved", opts->allow_reserved,
                "allow the library's own unibus-* attributes (writing dead letters by hand)");
  cmd->add_option("messages", opts->messages, "messages (default: read stdin, one per line)");
  AddBrokerFlags(cmd, &opts->broker);
  cmd->callback([opts] { Exit(run_publish(*opts)); });
}

}  // namespace unibus::cli
