// unibus bench --url URL --messages N --size B [--consumers K] [--repeat R]
// Measures publish throughput, consume+ack throughput and end-to-end latency, and,
// in the same run, a baseline for the backend (raw SQLite, raw librdkafka, ...),
// printing unibus's ratio to it. Reports min and median over the repetitions.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <iostream>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/baselines.h"
#include "cli/bench_stats.h"
#include "cli/common.h"
#include "cli/subcommands.h"
#include "core/url.h"
#ifdef UNIBUS_CLI_KAFKA_MOCK
#include "kafka/mock_cluster.h"
#endif

namespace unibus::cli {
namespace {

using bench::Median;
using bench::Min;

struct BenchOptions {
  BrokerFlags broker;
  int messages = 100000;
  int size = 100;
  int consumers = 1;
  int repeat = 3;
  int batch = 1000;
  int latency_messages = 5000;
  bool no_baseline = false;
  bool kafka_mock = false;
  int partitions = 4;
  bool cpu = false;
};

// Makes `topic` with `partitions` through Admin, or, where the server has no admin
// API (librdkafka's mock cluster), through `create_fallback`.
using TopicMaker = std::function<absl::Status(const std::string& topic, int partitions)>;

absl::Status MakeTopic(Broker& broker, const std::string& topic, int partitions,
                       const TopicMaker& fallback) {
  auto s = broker.admin().CreateTopic(TopicConfig{.name = topic, .partitions = partitions});
  if (absl::IsUnimplemented(s) && fallback) s = fallback(topic, partitions);
  if (absl::IsUnimplemented(s))
    return absl::OkStatus();  // the broker auto-creates on first publish
  if (absl::IsAlreadyExists(s)) return absl::OkStatus();
  return s;
}

struct Round {
  double publish = 0, send = 0, consume = 0;
  bench::ThreadCpu publish_cpu;  // by thread, from the first Publish to Flush's return
  bench::ThreadCpu send_cpu;     // the same for Send
  bench::ThreadCpu consume_cpu;  // by thread, from the first message to the last
};

absl::StatusOr<Round> RunRound(Broker& broker, const BenchOptions& o, int round,
                               const TopicMaker& fallback) {
  const std::string topic =
      absl::StrCat("bench-", getpid(), "-", round, "-", absl::ToUnixMillis(absl::Now()));
  auto admin = broker.admin();
  if (auto s = MakeTopic(broker, topic, std::max(o.partitions, o.consumers), fallback); !s.ok())
    return s;
  // The subscription exists before the first publish (Pub/Sub delivers only what is
  // published after it), but its consumers start after the publish phase, so the two
  // phases do not compete for the cores.
  const std::string subscription = topic + ".bench";
  if (auto s = admin.CreateSubscription(SubscriptionConfig{
          .name = subscription, .topic = topic, .start = StartPosition::kEarliest});
      !s.ok() && !absl::IsAlreadyExists(s) && !absl::IsUnimplemented(s)) {
    return s;
  }
  SubscriberOptions so;
  so.topic = topic;
  so.start = StartPosition::kEarliest;
  so.max_outstanding_messages = 5000;
  auto pub = broker.publisher(
      topic, PublisherOptions{.max_batch_messages = static_cast<std::size_t>(o.batch),
                              .create_topic_if_missing = true});
  if (!pub.ok()) return pub.status();
  const std::string payload(o.size, 'x');
  // One untimed message first, as the baseline does: the publisher's connection and (on
  // Kafka) its idempotent producer id are setup, not throughput.
  if (auto w = pub->Publish(Message{.data = payload}).get(); !w.ok()) return w.status();
  Round r;
  {
    std::vector<PublishFuture> fs;
    fs.reserve(o.messages);
    const bench::ThreadCpu cpu_before = bench::ThreadCpuNow();
    const absl::Time start = absl::Now();
    for (int i = 0; i < o.messages; ++i) fs.push_back(pub->Publish(Message{.data = payload}));
    if (auto s = pub->Flush(); !s.ok()) return s;
    r.publish = o.messages / absl::ToDoubleSeconds(absl::Now() - start);
    r.publish_cpu = bench::CpuSince(cpu_before, bench::ThreadCpuNow());
  }
  // The same messages again with Send (no result per message, as the baseline's
  // produce(), whose delivery reports only count), by a publisher of its own, warmed
  // the same way, to a topic of its own: the consumers below read exactly N of N.
  const std::string send_topic = topic + ".send";
  if (auto s = MakeTopic(broker, send_topic, std::max(o.partitions, o.consumers), fallback);
      !s.ok())
    return s;
  {
    auto sender = broker.publisher(
        send_topic, PublisherOptions{.max_batch_messages = static_cast<std::size_t>(o.batch),
                                     .create_topic_if_missing = true});
    if (!sender.ok()) return sender.status();
    if (auto w = sender->Publish(Message{.data = payload}).get(); !w.ok()) return w.status();
    const bench::ThreadCpu cpu_before = bench::ThreadCpuNow();
    const absl::Time start = absl::Now();
    for (int i = 0; i < o.messages; ++i) {
      if (auto s = sender->Send(Message{.data = payload}); !s.ok()) return s;
    }
    if (auto s = sender->Flush(); !s.ok()) return s;
    r.send = o.messages / absl::ToDoubleSeconds(absl::Now() - start);
    r.send_cpu = bench::CpuSince(cpu_before, bench::ThreadCpuNow());
    sender->Shutdown();
  }
  (void)admin.DeleteTopic(send_topic);
  std::vector<Subscriber> subs;
  for (int i = 0; i < o.consumers; ++i) {
    auto s = broker.subscriber(subscription, so);
    if (!s.ok()) return s.status();
    subs.push_back(*s);
  }
  // Timed from the first message received: joining a consumer group (Kafka) or
  // opening a stream (Pub/Sub) is setup, not throughput.
  std::atomic<int> received{0};
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  std::mutex first_mu;
  absl::Time first = absl::InfiniteFuture();
  std::vector<std::thread> threads;
  std::atomic<bool> failed{false};
  std::mutex cpu_mu;
  double caller_cpu = 0;  // the Pull callers' own CPU (their threads end before the snapshot)
  const bench::ThreadCpu cpu_before = bench::ThreadCpuNow();
  threads.reserve(subs.size());
  for (auto& s : subs) {
    threads.emplace_back([&, s]() mutable {
      const double cpu_start = bench::ThisThreadCpuMs();
      while (received.load() < o.messages && !failed) {
        auto got = s.Pull(1000, absl::Milliseconds(100));
        if (!got.ok()) {
          failed = true;
          return;
        }
        if (!got->empty()) {
          std::lock_guard<std::mutex> lock(first_mu);
          first = std::min(first, absl::Now());
        }
        for (auto& m : *got) std::move(m.ack).ack();
        received += static_cast<int>(got->size());
        if (absl::Now() > deadline) failed = true;
      }
      std::lock_guard<std::mutex> lock(cpu_mu);
      caller_cpu += bench::ThisThreadCpuMs() - cpu_start;
    });
  }
  for (auto& t : threads) t.join();
  r.consume_cpu = bench::CpuSince(cpu_before, bench::ThreadCpuNow());
  r.consume_cpu["(Pull callers)"] = caller_cpu;
  for (auto& s : subs) s.Shutdown();  // commits the acks
  if (failed)
    return absl::DeadlineExceededError("consumers did not receive every message within 120s");
  r.consume = o.messages / absl::ToDoubleSeconds(absl::Now() - first);
  pub->Shutdown();
  // Only what this round made (run-scoped names): its subscription, then its topic.
  (void)admin.DeleteSubscription(subscription);
  (void)admin.DeleteTopic(topic);
  return r;
}

// Publishes at `rate`/s while one subscriber receives; returns latencies in ms.
absl::StatusOr<std::vector<double>> RunLatency(Broker& broker, const BenchOptions& o, double rate,
                                               const TopicMaker& fallback) {
  const std::string topic =
      absl::StrCat("bench-latency-", getpid(), "-", absl::ToUnixMillis(absl::Now()));
  if (auto s = MakeTopic(broker, topic, 1, fallback); !s.ok()) return s;
  SubscriberOptions so;
  so.topic = topic;
  so.start = StartPosition::kEarliest;
  auto sub = broker.subscriber(topic + ".latency", so);
  if (!sub.ok()) return sub.status();
  auto pub = broker.publisher(topic, PublisherOptions{.create_topic_if_missing = true});
  if (!pub.ok()) return pub.status();
  std::vector<double> lat;
  std::mutex mu;
  std::atomic<bool> warmed{false};
  auto session = sub->Subscribe([&](const Message& m, AckHandler h) {
    if (m.data == "warm-up") {
      std::move(h).ack();
      warmed = true;
      return;
    }
    const double sent = std::stod(m.attribute("sent-ns"));
    const double ms = (absl::GetCurrentTimeNanos() - sent) / 1e6;
    std::move(h).ack();
    std::lock_guard<std::mutex> lock(mu);
    lat.push_back(ms);
  });
  if (!session.ok()) return session.status();
  // Warm up: the subscriber is receiving (group joined, stream open) before timing.
  const absl::Time warm_deadline = absl::Now() + absl::Seconds(60);
  for (;;) {
    (void)pub->Publish(MessageBuilder{}
                           .data("warm-up")
                           .attribute("sent-ns", absl::StrCat(absl::GetCurrentTimeNanos()))
                           .build());
    (void)pub->Flush();
    absl::SleepFor(absl::Milliseconds(200));
    if (warmed) break;
    if (absl::Now() > warm_deadline)
      return absl::DeadlineExceededError("latency run: subscriber received nothing in 60s");
  }
  const std::string payload(o.size, 'x');
  const absl::Time start = absl::Now();
  for (int i = 0; i < o.latency_messages; ++i) {
    const absl::Time due = start + absl::Seconds(i / rate);
    if (absl::Now() < due) absl::SleepFor(due - absl::Now());
    pub->Publish(MessageBuilder{}
                     .data(payload)
                     .attribute("sent-ns", absl::StrCat(absl::GetCurrentTimeNanos()))
                     .build());
  }
  (void)pub->Flush();
  const absl::Time end = absl::Now() + absl::Seconds(30);
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (static_cast<int>(lat.size()) >= o.latency_messages) break;
    }
    if (absl::Now() > end)
      return absl::DeadlineExceededError("latency run: messages missing after 30s");
    absl::SleepFor(absl::Milliseconds(10));
  }
  session->Stop();
  sub->Shutdown();
  pub->Shutdown();
  (void)broker.admin().DeleteSubscription(topic + ".latency");
  (void)broker.admin().DeleteTopic(topic);
  std::sort(lat.begin(), lat.end());
  return lat;
}

// One line of CPU milliseconds by thread name, largest first. Ticks are 10 ms.
void PrintCpu(const std::string& what, const bench::ThreadCpu& cpu) {
  std::vector<std::pair<double, std::string>> by_use;
  double total = 0;
  for (const auto& [name, ms] : cpu) {
    by_use.emplace_back(ms, name);
    total += ms;
  }
  std::sort(by_use.rbegin(), by_use.rend());
  std::string line = absl::StrFormat("  %s CPU %.0f ms:", what, total);
  for (const auto& [ms, name] : by_use)
    absl::StrAppend(&line, absl::StrFormat(" %s %.0f", name, ms));
  std::cout << line << "\n";
}

int run_bench(const BenchOptions& options) {
  BenchOptions o = options;
  TopicMaker fallback;
  absl::StatusOr<std::string> url = ResolveUrl(o.broker);
#ifdef UNIBUS_CLI_KAFKA_MOCK
  std::unique_ptr<kafka_internal::MockCluster> mock;
  if (o.kafka_mock) {
    auto m = kafka_internal::MockCluster::Start(1);
    if (!m.ok()) return Fail(m.status());
    mock = *std::move(m);
    url = mock->url();
    // The mock keeps about 5 MiB per partition and drops the oldest beyond that;
    // keyless messages go to partitions unevenly, so plan for 2 MiB each.
    const double bytes = static_cast<double>(o.messages) * (o.size + 70);
    o.partitions = std::max(o.partitions, static_cast<int>(std::ceil(bytes / (2 << 20))));
    fallback = [&mock](const std::string& topic, int partitions) {
      return mock->CreateTopic(topic, partitions);
    };
  }
#else
  if (o.kafka_mock)
    return Fail(absl::UnimplementedError("this build has no Kafka backend (--kafka-mock)"));
#endif
  if (!url.ok()) return Fail(url.status());
  auto broker = Broker::Open(*url, BrokerOptionsForCli(o.broker));
  if (!broker.ok()) return Fail(broker.status());
  const double load_before = LoadAverage();
  std::cout << absl::StrFormat(
      "unibus bench: %s, %d messages x %d bytes, %d consumer(s), %d round(s), load average "
      "%.2f\n",
      broker->url(), o.messages, o.size, o.consumers, o.repeat, load_before);
  std::cout << AllocatorLine(LoadedAllocator());
  std::vector<double> pub, send, con, base_pub, base_con, pub_ratio, send_ratio, con_ratio;
  std::string base_name;
  auto parsed = core_internal::ParseUrl(*url);
  for (int i = 0; i < o.repeat; ++i) {
    auto r = RunRound(*broker, o, i, fallback);
    if (!r.ok()) return Fail(r.status());
    pub.push_back(r->publish);
    send.push_back(r->send);
    con.push_back(r->consume);
    if (!o.no_baseline) {
      bench::BaselineParams params{o.messages, o.size, o.batch};
      const bool kafka = parsed.ok() && parsed->scheme == "kafka";
      if (kafka) {
        // The same partitions as unibus's topic (auto-creation would pick its own).
        params.topic =
            absl::StrCat("baseline-", getpid(), "-", i, "-", absl::ToUnixMillis(absl::Now()));
        if (auto s =
                MakeTopic(*broker, params.topic, std::max(o.partitions, o.consumers), fallback);
            !s.ok())
          return Fail(s);
      }
      auto b = bench::RunBaseline(*parsed, params);
      if (kafka) {
        // The baseline's consumer group is "<topic>.baseline"; both are this run's own.
        (void)broker->admin().DeleteSubscription(params.topic + ".baseline");
        (void)broker->admin().DeleteTopic(params.topic);
      }
      if (!b.ok()) return Fail(b.status());
      base_name = b->name;
      base_pub.push_back(b->publish_per_s);
      base_con.push_back(b->consume_per_s);
      pub_ratio.push_back(r->publish / b->publish_per_s);
      send_ratio.push_back(r->send / b->publish_per_s);
      con_ratio.push_back(r->consume / b->consume_per_s);
      if (o.cpu) {
        PrintCpu(absl::StrCat("round ", i + 1, " ", b->name, " publish"), b->publish_cpu);
        PrintCpu(absl::StrCat("round ", i + 1, " ", b->name, " consume"), b->consume_cpu);
      }
    }
    if (o.cpu) {
      PrintCpu(absl::StrCat("round ", i + 1, " unibus publish"), r->publish_cpu);
      PrintCpu(absl::StrCat("round ", i + 1, " unibus send"), r->send_cpu);
      PrintCpu(absl::StrCat("round ", i + 1, " unibus consume"), r->consume_cpu);
    }
  }
  auto row = [](const char* what, const std::vector<double>& v) {
    std::cout << absl::StrFormat("  %-28s min %12.0f  median %12.0f msg/s  spread %3.0f %%\n", what,
                                 Min(v), Median(v), 100 * Spread(v));
  };
  row("unibus publish", pub);
  row("unibus send (no result)", send);
  row("unibus consume+ack", con);
  if (!base_name.empty()) {
    row(absl::StrCat(base_name, " publish").c_str(), base_pub);
    row(absl::StrCat(base_name, " consume+ack").c_str(), base_con);
    auto ratio = [](const std::vector<double>& ours, const std::vector<double>& base) {
      return RatioOrNoisy(ours, base, "baseline");
    };
    std::cout << absl::StrFormat(
        "  ratio unibus/%s (medians): publish %s, send %s, consume+ack %s\n", base_name,
        ratio(pub, base_pub), ratio(send, base_pub), ratio(con, base_con));
    // Each round runs unibus and then the baseline, so a round's ratio compares
    // two runs seconds apart; the machine's drift between rounds cancels out.
    std::cout << absl::StrFormat(
        "  per-round ratios: publish min %.2fx median %.2fx, send min %.2fx median %.2fx, "
        "consume+ack min %.2fx median %.2fx\n",
        Min(pub_ratio), Median(pub_ratio), Min(send_ratio), Median(send_ratio), Min(con_ratio),
        Median(con_ratio));
  }
  if (o.latency_messages > 0) {
    const double rate = std::min(Median(pub), Median(con)) / 2;
    auto lat = RunLatency(*broker, o, rate, fallback);
    if (!lat.ok()) return Fail(lat.status());
    auto pct = [&](double p) {
      return (*lat)[std::min(lat->size() - 1, static_cast<std::size_t>(p * lat->size()))];
    };
    std::cout << absl::StrFormat(
        "  end-to-end latency at %.0f msg/s (half the max): p50 %.2f ms, p99 %.2f ms\n", rate,
        pct(0.50), pct(0.99));
  }
  const double load_after = LoadAverage();
  std::cout << LoadLine(load_before, load_after);
  return 0;
}

}  // namespace

void setup_bench(CLI::App& app) {
  auto opts = std::make_shared<BenchOptions>();
  auto* cmd =
      app.add_subcommand("bench", "measure throughput and latency against a same-run baseline");
  cmd->add_option("--messages,-n", opts->messages, "messages per round")->check(Positive());
  cmd->add_option("--size,-s", opts->size, "payload bytes")->check(Positive());
  cmd->add_option("--consumers,-c", opts->consumers, "competing consumers")->check(Positive());
  cmd->add_option("--repeat,-r", opts->repeat, "rounds (min and median are reported)")
      ->check(Positive());
  cmd->add_option("--batch", opts->batch, "publisher batch size (messages)")->check(Positive());
  cmd->add_option("--latency-messages", opts->latency_messages,
                  "messages in the latency run (0: skip)");
  cmd->add_flag("--no-baseline", opts->no_baseline, "skip the baseline");
  cmd->add_flag("--kafka-mock", opts->kafka_mock,
                "start librdkafka's mock cluster (1 broker) and bench against it");
  cmd->add_flag(
      "--cpu", opts->cpu,
      "print each round's consume-phase CPU time by thread (unibus's and the baseline's)");
  cmd->add_option("--partitions", opts->partitions, "partitions of the bench topic (Kafka)")
      ->check(Positive());
  AddBrokerFlags(cmd, &opts->broker);
  cmd->callback([opts] { Exit(run_bench(*opts)); });
}

}  // namespace unibus::cli
