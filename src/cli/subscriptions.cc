// unibus subscriptions create|delete|list|describe
#include <cstdint>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/common.h"
#include "cli/subcommands.h"

namespace unibus::cli {
namespace {

struct SubscriptionsOptions {
  BrokerFlags broker;
  std::string name;
  std::string topic;
  bool from_beginning = false;
  std::string ack_deadline = "30s";
  std::string dead_letter_topic;
  int max_delivery_attempts = 5;
};

int run_subscriptions(const std::string& action, const SubscriptionsOptions& o) {
  auto broker = OpenBroker(o.broker);
  if (!broker.ok()) return Fail(broker.status());
  Admin admin = broker->admin();
  if (action == "create") {
    auto deadline = ParseDuration(o.ack_deadline);
    if (!deadline.ok()) {
      return Fail(absl::Status(deadline.status().code(),
                               absl::StrCat("--ack-deadline: ", deadline.status().message())));
    }
    SubscriptionConfig c{
        .name = o.name,
        .topic = o.topic,
        .start = o.from_beginning ? StartPosition::kEarliest : StartPosition::kLatest,
        .ack_deadline = *deadline,
        .dead_letter_topic = o.dead_letter_topic,
        .max_delivery_attempts = o.max_delivery_attempts};
    if (auto s = admin.CreateSubscription(c); !s.ok()) return Fail(s);
    std::cout << "created subscription " << o.name << " on topic " << o.topic << "\n";
  } else if (action == "delete") {
    if (auto s = admin.DeleteSubscription(o.name); !s.ok()) return Fail(s);
    std::cout << "deleted subscription " << o.name << "\n";
  } else if (action == "list") {
    auto subs = admin.ListSubscriptions();
    if (!subs.ok()) return Fail(subs.status());
    for (const auto& s : *subs) std::cout << s << "\n";
  } else {
    auto info = admin.DescribeSubscription(o.name);
    if (!info.ok()) return Fail(info.status());
    // -1 is what a backend cannot tell (SubscriptionInfo): said in words, not as a count.
    auto number = [](std::int64_t n, const char* unknown) {
      return n < 0 ? std::string(unknown) : absl::StrCat(n);
    };
    const char* kNotReported = "unknown (not reported by this backend)";
    std::cout << "subscription: " << info->name << "\ntopic: " << info->topic
              << "\nbacklog: " << number(info->backlog, kNotReported)
              << "\nin_flight: " << number(info->in_flight, kNotReported) << "\nack_deadline: "
              << (info->ack_deadline > absl::ZeroDuration()
                      ? absl::FormatDuration(info->ack_deadline)
                      : std::string("none (deliveries are not leased on this backend)"))
              << "\n";
    if (!info->dead_letter_topic.empty())
      std::cout << "dead_letter_topic: " << info->dead_letter_topic << "\n";
    if (!info->members.empty() || !info->partitions.empty()) {
      std::cout << "members: " << info->members.size() << "\n";
      for (const auto& m : info->members) std::cout << "  " << m << "\n";
    }
    if (!info->partitions.empty()) {
      // One line each; what is not known is one word, so the columns stay one token each.
      std::cout << "partitions: partition committed_offset high_offset lag\n";
      for (const auto& p : info->partitions) {
        std::cout << "  " << p.partition << " " << number(p.committed_offset, "none") << " "
                  << number(p.high_offset, "unknown") << " " << number(p.lag, "unknown") << "\n";
      }
    }
  }
  return 0;
}

}  // namespace

void setup_subscriptions(CLI::App& app) {
  auto opts = std::make_shared<SubscriptionsOptions>();
  auto* subs =
      app.add_subcommand("subscriptions", "create, delete, list and describe subscriptions");
  subs->require_subcommand(1);
  auto* create = subs->add_subcommand("create", "create a subscription on a topic");
  create->add_option("name", opts->name, "subscription name")->required();
  create->add_option("--topic", opts->topic, "topic to read")->required();
  create->add_flag("--from-beginning", opts->from_beginning,
                   "start at the earliest retained message");
  create->add_option("--ack-deadline", opts->ack_deadline, "lease per delivery, e.g. 30s");
  create->add_option("--dead-letter-topic", opts->dead_letter_topic,
                     "native dead-letter topic (Pub/Sub)");
  create->add_option("--max-delivery-attempts", opts->max_delivery_attempts,
                     "before dead-lettering");
  auto* del = subs->add_subcommand("delete", "delete a subscription");
  del->add_option("name", opts->name, "subscription name")->required();
  auto* list = subs->add_subcommand("list", "list subscriptions");
  auto* describe = subs->add_subcommand("describe", "describe a subscription");
  describe->add_option("name", opts->name, "subscription name")->required();
  for (auto* sub : {create, del, list, describe}) {
    AddBrokerFlags(sub, &opts->broker);
    sub->callback([opts, sub] { Exit(run_subscriptions(sub->get_name(), *opts)); });
  }
}

}  // namespace unibus::cli
