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
  absl::StatusOr<std::vector<absl::StatusOr<MessageId>>> PublishBatch(const std::string&,
                                                                     std::vector<Message>& batch) override {
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
  auto pub = core_internal::MakeBatchingPublisher(std::make_shared<NullSink>(), "topic", PublisherOptions{}, 1 << 20);
  const std::string payload(100, 'x');
  for (auto _ : state) {
    benchmark::DoNotOptimize(pub->Publish(Message{.data = payload}));
  }
  (void)pub->Flush();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BatchingPublisherPublish);

void BM_MemPublishAndPullAck(benchmark::State& state) {
  auto broker = Broker::Open(absl::StrCat("mem://bench-", state.range(0)));
  (void)broker->admin().CreateTopic("bench-topic");
  auto sub = broker->subscriber("bench-sub", {.topic = "bench-topic", .max_outstanding_messages = 5000});
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

}  // namespace

BENCHMARK_MAIN();
