// unibus topics create|delete|list|describe
#include <iostream>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cli/common.h"
#include "cli/subcommands.h"

namespace unibus::cli {
namespace {

struct TopicsOptions {
  BrokerFlags broker;
  std::string name;
  int partitions = 1;
  int replication = -1;
  std::optional<std::string> retention;  // unset: the backend's default
  std::int64_t retention_messages = 0;
  bool if_not_exists = false;
};

int run_topics(const std::string& action, const TopicsOptions& o) {
  auto broker = OpenBroker(o.broker);
  if (!broker.ok()) return Fail(broker.status());
  Admin admin = broker->admin();
  if (action == "create") {
    TopicConfig c{.name = o.name,
                  .partitions = o.partitions,
                  .replication_factor = o.replication,
                  .retention_messages = o.retention_messages};
    if (o.retention) {
      auto d = ParseDuration(*o.retention);
      // 0 would silently mean the backend's default; a negative value gets the same
      // rule rather than ParseDuration's "use 0 or more".
      absl::string_view text = absl::StripLeadingAsciiWhitespace(*o.retention);
      const bool negative =
          absl::ConsumePrefix(&text, "-") && ParseDuration(std::string(text)).ok();
      if (negative || (d.ok() && *d <= absl::ZeroDuration())) {
        return Fail(absl::InvalidArgumentError(
            absl::StrCat("--retention must be above 0 (leave it out for the backend's "
                         "default), got '",
                         *o.retention, "'")));
      }
      if (!d.ok()) {
        return Fail(
            absl::Status(d.status().code(), absl::StrCat("--retention: ", d.status().message())));
      }
      c.retention = *d;
    }
    auto s = admin.CreateTopic(c);
    if (absl::IsAlreadyExists(s) && o.if_not_exists) s = absl::OkStatus();
    if (!s.ok()) return Fail(s);
    std::cout << "created topic " << o.name << "\n";
  } else if (action == "delete") {
    if (auto s = admin.DeleteTopic(o.name); !s.ok()) return Fail(s);
    std::cout << "deleted topic " << o.name << "\n";
  } else if (action == "list") {
    auto topics = admin.ListTopics();
    if (!topics.ok()) return Fail(topics.status());
    for (const auto& t : *topics) std::cout << t << "\n";
  } else {
    auto info = admin.DescribeTopic(o.name);
    if (!info.ok()) return Fail(info.status());
    std::cout << "topic: " << info->name << "\npartitions: " << info->partitions
              << "\nreplication: " << info->replication_factor << "\nmessages: " << info->messages
              << "\n";
    if (info->retention > absl::ZeroDuration()) {
      std::cout << "retention: " << absl::FormatDuration(info->retention) << "\n";
    }
    if (info->retention_messages > 0)
      std::cout << "retention_messages: " << info->retention_messages << "\n";
    for (const auto& p : info->partition_info) {
      std::cout << "partition " << p.id << ": leader=" << p.leader << " low=" << p.low_offset
                << " high=" << p.high_offset << "\n";
    }
  }
  return 0;
}

}  // namespace

void setup_topics(CLI::App& app) {
  auto opts = std::make_shared<TopicsOptions>();
  auto* topics = app.add_subcommand("topics", "create, delete, list and describe topics");
  topics->require_subcommand(1);
  auto* create = topics->add_subcommand("create", "create a topic");
  create->add_option("name", opts->name, "topic name")->required();
  create->add_option("--partitions", opts->partitions, "partitions (Kafka)")->check(Positive());
  create->add_option("--replication", opts->replication, "replication factor (Kafka)");
  create->add_option("--retention", opts->retention, "keep messages this long, e.g. 7d, 12h");
  create
      ->add_option("--retention-messages", opts->retention_messages,
                   "keep at most this many (sqlite; 0: no limit)")
      ->check(NonNegative());
  create->add_flag("--if-not-exists", opts->if_not_exists, "succeed when it already exists");
  auto* del = topics->add_subcommand("delete", "delete a topic");
  del->add_option("name", opts->name, "topic name")->required();
  auto* list = topics->add_subcommand("list", "list topics");
  auto* describe = topics->add_subcommand("describe", "describe a topic");
  describe->add_option("name", opts->name, "topic name")->required();
  for (auto* sub : {create, del, list, describe}) {
    AddBrokerFlags(sub, &opts->broker);
    sub->callback([opts, sub] { Exit(run_topics(sub->get_name(), *opts)); });
  }
}

}  // namespace unibus::cli
