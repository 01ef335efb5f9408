// unibus consume --subscription S [--topic T] [--from-beginning] [--max N]
//                [--timeout DURATION] [--format text|json] [--metrics HOST:PORT]
// Prints each message, then acks it: a message is acked only once it was printed.
#include <cstdio>
#include <iostream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/common.h"
#include "cli/metrics_server.h"
#include "cli/subcommands.h"
#include "nlohmann/json.hpp"
#include "spdlog/logger.h"

namespace unibus::cli {
namespace {

struct ConsumeOptions {
  BrokerFlags broker;
  std::string subscription;
  std::string topic;
  bool from_beginning = false;
  std::int64_t max = 0;
  std::string timeout;
  std::string format = "text";
  std::string ack_deadline = "30s";
  MetricsFlags metrics;
  bool wait_for_topics = false;
};

bool IsUtf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();  // the strict error handler throws on bad UTF-8
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

// One JSON object per message, lossless: bytes that are not valid UTF-8 (data, the
// ordering key, an attribute key or value) go base64-encoded under a `_base64` name
// instead of being replaced, so a consumer can always get the exact bytes back.
nlohmann::json ToJson(const Message& m) {
  nlohmann::json j;
  j["id"] = m.id;
  j["topic"] = m.topic;
  if (IsUtf8(m.data))
    j["data"] = m.data;
  else
    j["data_base64"] = absl::Base64Escape(m.data);
  if (!m.ordering_key.empty()) {
    if (IsUtf8(m.ordering_key))
      j["key"] = m.ordering_key;
    else
      j["key_base64"] = absl::Base64Escape(m.ordering_key);
  }
  j["attributes"] = nlohmann::json::object();
  for (const auto& [k, v] : m.attributes) {
    if (IsUtf8(k) && IsUtf8(v))
      j["attributes"][k] = v;
    else
      j["attributes_base64"][absl::Base64Escape(k)] = absl::Base64Escape(v);
  }
  j["publish_time"] = absl::FormatTime(absl::RFC3339_full, m.publish_time, absl::UTCTimeZone());
  j["delivery_attempt"] = m.delivery_attempt;
  return j;
}

std::string Format(const Message& m, const std::string& format) {
  if (format == "json") return ToJson(m).dump();
  std::string line = m.data;
  if (!m.ordering_key.empty() || !m.attributes.empty()) {
    std::string meta;
    if (!m.ordering_key.empty()) absl::StrAppend(&meta, "key=", m.ordering_key);
    for (const auto& [k, v] : m.attributes)
      absl::StrAppend(&meta, meta.empty() ? "" : " ", k, "=", v);
    line = absl::StrCat(line, "\t[", meta, "]");
  }
  return line;
}

int run_consume(const ConsumeOptions& o) {
  if (o.format != "text" && o.format != "json") {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--format must be text or json, not '", o.format, "'")));
  }
  absl::Duration idle = absl::InfiniteDuration();
  if (!o.timeout.empty()) {
    auto d = ParseDuration(o.timeout);
    if (!d.ok()) return Fail(d.status());
    idle = *d;
  }
  auto deadline = ParseDuration(o.ack_deadline);
  if (!deadline.ok()) return Fail(deadline.status());
  auto registry = std::make_shared<MetricsRegistry>();
  auto server = MetricsServer::Start(o.metrics, registry);
  if (!server.ok()) return Fail(server.status());
  InstallStopHandler();
  auto broker = OpenBroker(o.broker);
  if (!broker.ok()) return Fail(broker.status());
  if (!o.topic.empty()) {
    if (auto s = EnsureTopic(*broker, o.topic, o.wait_for_topics,
                             [](const std::string& line) { Logger()->warn("consume: {}", line); });
        !s.ok()) {
      return absl::IsCancelled(s) ? 0 : Fail(s);
    }
  }
  SubscriberOptions so;
  so.ack_deadline = *deadline;
  so.topic = o.topic;
  so.start = o.from_beginning ? StartPosition::kEarliest : StartPosition::kLatest;
  if (o.max > 0)
    so.max_outstanding_messages = static_cast<std::size_t>(std::min<std::int64_t>(o.max, 1000));
  auto sub = broker->subscriber(o.subscription, so);
  if (!sub.ok()) return Fail(sub.status());
  SubscriberMetrics metrics(registry, *sub, o.subscription);
  if (*server) (*server)->SetReady(absl::OkStatus());
  std::int64_t printed = 0;
  absl::Time last = absl::Now();
  while (!StopRequested() && (o.max == 0 || printed < o.max)) {
    const std::size_t want =
        o.max == 0 ? 100 : static_cast<std::size_t>(std::min<std::int64_t>(100, o.max - printed));
    auto got = sub->Pull(want, absl::Milliseconds(200));
    if (!got.ok()) {
      sub->Shutdown();
      return Fail(got.status());
    }
    if (got->empty()) {
      if (absl::Now() - last >= idle) break;
      continue;
    }
    last = absl::Now();
    metrics.Wrap(*got);
    for (auto& m : *got) {
      std::string line = Format(m.message, o.format);
      line.push_back('\n');
      // Written and flushed before the ack, so nothing acked goes unprinted.
      if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() ||
          std::fflush(stdout) != 0) {
        sub->Shutdown();
        return Fail(absl::UnavailableError("cannot write to stdout; the message was not acked"));
      }
      std::move(m.ack).ack();
      ++printed;
    }
  }
  sub->Shutdown();  // commits the acks
  return 0;
}

}  // namespace

void setup_consume(CLI::App& app) {
  auto opts = std::make_shared<ConsumeOptions>();
  auto* cmd =
      app.add_subcommand("consume", "print messages of a subscription, acking each once printed");
  cmd->add_option("--subscription,-s", opts->subscription, "subscription (Kafka: consumer group)")
      ->required();
  cmd->add_option("--topic,-t", opts->topic, "topic; creates the subscription on it when missing");
  cmd->add_flag("--from-beginning", opts->from_beginning,
                "a new subscription starts at the earliest message");
  cmd->add_option("--max,-n", opts->max, "stop after N messages")->check(NonNegative());
  cmd->add_option("--timeout", opts->timeout, "stop after this long without a message, e.g. 5s");
  cmd->add_option("--format", opts->format, "text or json");
  cmd->add_option(
      "--ack-deadline", opts->ack_deadline,
      "lease per message: if this process dies, its unacked messages go to others after it");
  AddBrokerFlags(cmd, &opts->broker);
  AddMetricsFlags(cmd, &opts->metrics);
  AddWaitForTopicsFlag(cmd, &opts->wait_for_topics);
  cmd->callback([opts] { Exit(run_consume(*opts)); });
}

}  // namespace unibus::cli
