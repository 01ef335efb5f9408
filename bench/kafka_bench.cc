// kafka_bench [--messages N] [--size B] [--repeat R] [--brokers K] [--partitions P] [--url
// kafka://...] unibus's kafka:// publish and consume+ack throughput against raw librdkafka
// (bench/kafka_baseline.h), measured in the same run on a mock cluster it starts
// (or on --url). Prints min and median over the rounds and the unibus/raw ratios.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/kafka_baseline.h"
#include "kafka/mock_cluster.h"
#include "unibus/unibus.h"

namespace {

using unibus::bench::BaselineParams;
using unibus::bench::Median;
using unibus::bench::Min;

struct Round {
  double publish = 0, consume = 0;
};

absl::Status MakeTopic(unibus::Broker& broker, unibus::kafka_internal::MockCluster* cluster,
                       const std::string& topic, int partitions) {
  if (cluster != nullptr) return cluster->CreateTopic(topic, partitions);
  auto s = broker.admin().CreateTopic(unibus::TopicConfig{.name = topic, .partitions = partitions});
  return absl::IsAlreadyExists(s) ? absl::OkStatus() : s;
}

absl::StatusOr<Round> RunUnibus(unibus::Broker& broker, const std::string& topic,
                                const BaselineParams& p) {
  auto pub = broker.publisher(
      topic, unibus::PublisherOptions{.max_batch_messages = static_cast<std::size_t>(p.batch)});
  if (!pub.ok()) return pub.status();
  const std::string payload(p.size, 'x');
  Round r;
  {
    std::vector<unibus::PublishFuture> fs;
    fs.reserve(p.messages);
    const absl::Time start = absl::Now();
    for (int i = 0; i < p.messages; ++i)
      fs.push_back(pub->Publish(unibus::Message{.data = payload}));
    if (auto s = pub->Flush(); !s.ok()) return s;
    r.publish = p.messages / absl::ToDoubleSeconds(absl::Now() - start);
  }
  pub->Shutdown();
  // Subscribed after publishing, as the baseline does, so neither phase competes
  // with the other for the CPU.
  unibus::SubscriberOptions so;
  so.topic = topic;
  so.start = unibus::StartPosition::kEarliest;
  so.max_outstanding_messages = 5000;
  auto sub = broker.subscriber(topic + ".bench", so);
  if (!sub.ok()) return sub.status();
  int got = 0;
  absl::Time first = absl::InfiniteFuture();
  const absl::Time give_up = absl::Now() + absl::Seconds(120);
  while (got < p.messages && absl::Now() < give_up) {
    auto batch = sub->Pull(1000, absl::Milliseconds(100));
    if (!batch.ok()) return batch.status();
    if (!batch->empty() && got == 0) first = absl::Now();
    for (auto& m : *batch) std::move(m.ack).ack();
    got += static_cast<int>(batch->size());
  }
  const absl::Time done = absl::Now();
  sub->Shutdown();
  if (got < p.messages)
    return absl::DeadlineExceededError("unibus consumer did not get every message in 120s");
  r.consume = p.messages / absl::ToDoubleSeconds(done - first);
  return r;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "kafka_bench: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  BaselineParams p;
  int repeat = 3, brokers = 1, partitions = 4;
  std::string url;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* v = argv[i + 1];
    if (flag == "--messages")
      p.messages = std::atoi(v);
    else if (flag == "--size")
      p.size = std::atoi(v);
    else if (flag == "--repeat")
      repeat = std::atoi(v);
    else if (flag == "--brokers")
      brokers = std::atoi(v);
    else if (flag == "--batch")
      p.batch = std::atoi(v);
    else if (flag == "--partitions")
      partitions = std::atoi(v);
    else if (flag == "--url")
      url = v;
    else
      return Fail(absl::InvalidArgumentError(absl::StrCat("unknown flag ", flag)));
  }
  std::unique_ptr<unibus::kafka_internal::MockCluster> cluster;
  if (url.empty()) {
    auto c = unibus::kafka_internal::MockCluster::Start(brokers);
    if (!c.ok()) return Fail(c.status());
    cluster = *std::move(c);
    url = absl::StrCat(cluster->url(), "?session.timeout.ms=6000");
  }
  auto broker = unibus::Broker::Open(url);
  if (!broker.ok()) return Fail(broker.status());
  auto parsed = unibus::core_internal::ParseUrl(url);
  if (!parsed.ok()) return Fail(parsed.status());
  std::printf("kafka_bench: %s, %d messages x %d bytes, %d partition(s), %d round(s)%s\n",
              broker->url().c_str(), p.messages, p.size, partitions, repeat,
              cluster ? absl::StrCat(", mock cluster of ", brokers, " broker(s)").c_str() : "");
  std::vector<double> pub, con, raw_pub, raw_con;
  for (int i = 0; i < repeat; ++i) {
    // Same-shaped topics for both (the mock keeps ~5 MiB per partition: spread it).
    const std::string topic = absl::StrCat("unibus-bench-", getpid(), "-", i);
    const std::string raw_topic = absl::StrCat("raw-bench-", getpid(), "-", i);
    if (auto s = MakeTopic(*broker, cluster.get(), topic, partitions); !s.ok()) return Fail(s);
    if (auto s = MakeTopic(*broker, cluster.get(), raw_topic, partitions); !s.ok()) return Fail(s);
    auto u = RunUnibus(*broker, topic, p);
    if (!u.ok()) return Fail(u.status());
    auto b = unibus::bench::RunKafkaBaseline(*parsed, p, raw_topic);
    if (!b.ok()) return Fail(b.status());
    pub.push_back(u->publish);
    con.push_back(u->consume);
    raw_pub.push_back(b->publish_per_s);
    raw_con.push_back(b->consume_per_s);
  }
  auto row = [](const char* what, const std::vector<double>& v) {
    std::printf("  %-28s min %10.0f  median %10.0f msg/s\n", what, Min(v), Median(v));
  };
  row("unibus publish", pub);
  row("raw-librdkafka publish", raw_pub);
  row("unibus consume+ack", con);
  row("raw-librdkafka consume+ack", raw_con);
  std::printf("  ratio unibus/raw-librdkafka: publish %.2fx, consume+ack %.2fx (medians)\n",
              Median(pub) / Median(raw_pub), Median(con) / Median(raw_con));
  return 0;
}
