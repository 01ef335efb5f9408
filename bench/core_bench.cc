// Micro-benchmarks of the shared hot paths: the batching publisher, the dispatcher's
// pull/ack loop, and mem:// end to end. Each has its baseline beside it (the same
// work through a bare mutex+deque) so the ratio is read off one run:
//   build/bench/core_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <deque>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "core/batching_publisher.h"
#include "core/dispatcher.h"
#include "unibus/unibus.h"

namespace {

using namespace unibus;

class NullSink : public core_internal::BatchSink {
 public:
  absl::StatusOr<std::vector<absl::StatusOr<MessageId>>> PublishBatch(
      const std::string&, std::vector<Message>& batch) override {
    return std::vector<absl::StatusOr<MessageId>>(batch.size(), MessageId("1"));
  }
};

void BM_BaselineMutexDequePush(benchmark::State& state) {
  std::mutex mu;
  std::deque<Message> q;
  const std::string payload(100, 'x');
  for (auto _ : state) {
    std::lock_guard<std::mutex> lock(mu);
    q.push_back(Message{.data = payload});
    if (q.size() >= 1000) q.clear();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BaselineMutexDequePush);

void BM_BatchingPublisherPublish(benchmark::State& state) {
  auto pub = core_internal::MakeBatchingPublisher(std::make_shared<NullSink>(), "topic",
                                                  PublisherOptions{}, 1 << 20);
  const std::string payload(100, 'x');
  for (auto _ : state) {
    benchmark::DoNotOptimize(pub->Publish(Message{.data = payload}));
  }
  (void)pub->Flush();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BatchingPublisherPublish);

// The portability check every Broker::publisher Publish runs (ValidateForPublish),
// against the same publisher without it: a typical message of 100 bytes with three
// attributes and an ordering key. Arg 1: checked, 0: the unchecked baseline.
void BM_PublishPortabilityCheck(benchmark::State& state) {
  auto conn = core_internal::MakeBatchingPublisher(std::make_shared<NullSink>(), "topic",
                                                   PublisherOptions{}, 1 << 20);
  Capabilities caps;
  caps.backend = "bench";
  Publisher pub = state.range(0) ? Publisher(conn, caps, "topic") : Publisher(conn);
  const Message m = MessageBuilder{}
                        .data(std::string(100, 'x'))
                        .attribute("content-type", "application/x-protobuf")
                        .attribute("unibus-type", "unibus.vision.ImageMessage")
                        .attribute("traceparent", std::string(55, 't'))
                        .ordering_key("img-12345")
                        .build();
  for (auto _ : state) benchmark::DoNotOptimize(pub.Publish(m));
  (void)pub.Flush();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PublishPortabilityCheck)->Arg(0)->Arg(1);

void BM_MemPublishAndPullAck(benchmark::State& state) {
  auto broker = Broker::Open(absl::StrCat("mem://bench-", state.range(0)));
  (void)broker->admin().CreateTopic("bench-topic");
  auto sub =
      broker->subscriber("bench-sub", {.topic = "bench-topic", .max_outstanding_messages = 5000});
  auto pub = broker->publisher("bench-topic");
  const std::string payload(100, 'x');
  const int batch = static_cast<int>(state.range(0));
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) pub->Publish(Message{.data = payload});
    (void)pub->Flush();
    int got = 0;
    while (got < batch) {
      auto r = sub->Pull(batch, absl::Seconds(1));
      for (auto& m : *r) std::move(m.ack).ack();
      got += static_cast<int>(r->size());
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_MemPublishAndPullAck)->Arg(100)->Arg(1000);

// A source with an endless supply of 100-byte messages, Kafka-like (long topic
// name, partition:offset ids): what the dispatcher itself costs per message.
class EndlessSource : public core_internal::SubscriptionSource {
 public:
  absl::StatusOr<std::vector<core_internal::Delivery>> Fetch(std::size_t max_messages, std::size_t,
                                                             absl::Duration) override {
    std::vector<core_internal::Delivery> out;
    out.reserve(max_messages);
    for (std::size_t i = 0; i < max_messages; ++i, ++next_) {
      core_internal::Delivery d;
      d.message.data = payload_;
      d.message.topic = "bench-topic-with-a-long-name";
      d.message.id = absl::StrCat("0:", next_);
      d.token = absl::StrCat(next_);
      out.push_back(std::move(d));
    }
    return out;
  }
  absl::Status Ack(const std::vector<std::string>& tokens) override {
    acked_ += tokens.size();
    return absl::OkStatus();
  }
  absl::Status Release(const std::vector<std::string>&) override { return absl::OkStatus(); }
  absl::Status ExtendLeases(const std::vector<std::string>&, absl::Duration) override {
    return absl::OkStatus();
  }
  bool needs_lease_extension() const override { return false; }
  void Close() override {}

 private:
  const std::string payload_ = std::string(100, 'x');
  std::uint64_t next_ = 0;
  std::size_t acked_ = 0;
};

void BM_DispatcherPullAck(benchmark::State& state) {
  SubscriberOptions o;
  o.max_outstanding_messages = 5000;
  auto conn = core_internal::MakeDispatcher(
      std::make_shared<EndlessSource>(),
      {.subscription = "bench-sub", .topic = "bench-topic", .options = o}, nullptr);
  const std::size_t batch = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto r = conn->Pull(batch, absl::Seconds(1));
    for (auto& m : *r) std::move(m.ack).ack();
    state.SetItemsProcessed(state.items_processed() + static_cast<std::int64_t>(r->size()));
  }
  conn->Shutdown();
}
BENCHMARK(BM_DispatcherPullAck)->Arg(1000)->MeasureProcessCPUTime()->UseRealTime();

// Its baseline: the same messages handed through a bare mutex+deque.
void BM_BaselineDequePullAck(benchmark::State& state) {
  std::mutex mu;
  std::deque<Message> q;
  const std::string payload(100, 'x');
  const std::size_t batch = static_cast<std::size_t>(state.range(0));
  std::uint64_t next = 0;
  for (auto _ : state) {
    {
      std::lock_guard<std::mutex> lock(mu);
      for (std::size_t i = 0; i < batch; ++i, ++next) {
        q.push_back(Message{.data = payload,
                            .id = absl::StrCat("0:", next),
                            .topic = "bench-topic-with-a-long-name"});
      }
    }
    std::vector<Message> out;
    {
      std::lock_guard<std::mutex> lock(mu);
      while (!q.empty()) {
        out.push_back(std::move(q.front()));
        q.pop_front();
      }
    }
    benchmark::DoNotOptimize(out.data());
    state.SetItemsProcessed(state.items_processed() + static_cast<std::int64_t>(out.size()));
  }
}
BENCHMARK(BM_BaselineDequePullAck)->Arg(1000)->MeasureProcessCPUTime()->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
