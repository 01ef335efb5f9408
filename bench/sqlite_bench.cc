// Micro-benchmarks of sqlite:// (publish; consume+ack) beside raw SQLite doing the
// same rows in the same run; each unibus benchmark reports its ratio to the raw
// figure measured just before it (counter vs_raw):
//   build/bench/sqlite_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/sqlite_baseline.h"
#include "sqlite/sink.h"
#include "unibus/unibus.h"

namespace {

using namespace unibus;

constexpr int kMessages = 100000;
constexpr int kSize = 100;
constexpr int kBatch = 1000;

std::string TempPath(const char* what) {
  return (std::filesystem::temp_directory_path() /
          absl::StrCat("unibus-sqlite-bench-", what, "-", getpid(), ".db"))
      .string();
}

void RemoveDb(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

bench::BaselineResult Raw(benchmark::State& state) {
  auto r = bench::RunSqliteBaseline(TempPath("raw"), {kMessages, kSize, kBatch});
  if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
  return r.ok() ? *r : bench::BaselineResult{};
}

void BM_RawSqlite(benchmark::State& state) {
  double pub = 0, con = 0;
  for (auto _ : state) {
    auto r = Raw(state);
    pub = r.publish_per_s;
    con = r.consume_per_s;
  }
  state.counters["publish_per_s"] = pub;
  state.counters["consume_per_s"] = con;
}
BENCHMARK(BM_RawSqlite)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// Publishes kMessages of kSize bytes through a unibus publisher (batches of kBatch)
// and waits for them all to be stored.
void BM_SqlitePublish(benchmark::State& state) {
  const double raw = Raw(state).publish_per_s;
  double rate = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string path = TempPath("publish");
    RemoveDb(path);
    auto broker = Broker::Open("sqlite://" + path);
    if (!broker.ok()) return state.SkipWithError(broker.status().ToString().c_str());
    (void)broker->admin().CreateTopic("bench-topic");
    auto pub = broker->publisher("bench-topic", {.max_batch_messages = kBatch});
    const std::string payload(kSize, 'x');
    state.ResumeTiming();
    const absl::Time start = absl::Now();
    for (int i = 0; i < kMessages; ++i) pub->Publish(Message{.data = payload});
    if (auto s = pub->Flush(); !s.ok()) return state.SkipWithError(s.ToString().c_str());
    rate = kMessages / absl::ToDoubleSeconds(absl::Now() - start);
    state.PauseTiming();
    pub->Shutdown();
    RemoveDb(path);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kMessages);
  state.counters["msg_per_s"] = rate;
  state.counters["vs_raw"] = raw > 0 ? rate / raw : 0;
}
BENCHMARK(BM_SqlitePublish)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// Pulls and acks kMessages already stored, through a unibus subscriber; the time
// ends when the subscriber has committed every ack.
void BM_SqliteConsumeAck(benchmark::State& state) {
  const double raw = Raw(state).consume_per_s;
  double rate = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string path = TempPath("consume");
    RemoveDb(path);
    auto broker = Broker::Open("sqlite://" + path);
    if (!broker.ok()) return state.SkipWithError(broker.status().ToString().c_str());
    (void)broker->admin().CreateTopic("bench-topic");
    auto sub = broker->subscriber("bench-sub", {.topic = "bench-topic",
                                                .start = StartPosition::kEarliest,
                                                .max_outstanding_messages = 5000});
    {
      auto pub = broker->publisher("bench-topic", {.max_batch_messages = kBatch});
      const std::string payload(kSize, 'x');
      for (int i = 0; i < kMessages; ++i) pub->Publish(Message{.data = payload});
      (void)pub->Flush();
      pub->Shutdown();
    }
    state.ResumeTiming();
    const absl::Time start = absl::Now();
    int got = 0;
    while (got < kMessages) {
      auto batch = sub->Pull(kBatch, absl::Milliseconds(100));
      if (!batch.ok()) return state.SkipWithError(batch.status().ToString().c_str());
      for (auto& m : *batch) std::move(m.ack).ack();
      got += static_cast<int>(batch->size());
      if (absl::Now() - start > absl::Seconds(60)) return state.SkipWithError("timed out");
    }
    sub->Shutdown();  // commits the last acks
    rate = kMessages / absl::ToDoubleSeconds(absl::Now() - start);
    state.PauseTiming();
    RemoveDb(path);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kMessages);
  state.counters["msg_per_s"] = rate;
  state.counters["vs_raw"] = raw > 0 ? rate / raw : 0;
}
BENCHMARK(BM_SqliteConsumeAck)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// The backend's own share of publishing: BatchSink::PublishBatch of kBatch messages
// per transaction, without the batching publisher in front.
void BM_SqliteSinkBatch(benchmark::State& state) {
  const std::string path = TempPath("sink");
  RemoveDb(path);
  auto broker = Broker::Open("sqlite://" + path);
  if (!broker.ok()) return state.SkipWithError(broker.status().ToString().c_str());
  (void)broker->admin().CreateTopic("bench-topic");
  auto db =
      sqlite_internal::Db::Open(sqlite_internal::DbConfig{.path = path, .url = "sqlite://" + path});
  if (!db.ok()) return state.SkipWithError(db.status().ToString().c_str());
  sqlite_internal::SqliteSink sink(*std::move(db));
  std::vector<Message> batch(kBatch, Message{.data = std::string(kSize, 'x')});
  for (auto _ : state) {
    auto r = sink.PublishBatch("bench-topic", batch);
    if (!r.ok()) return state.SkipWithError(r.status().ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  RemoveDb(path);
}
BENCHMARK(BM_SqliteSinkBatch)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Writers in one process taking turns on one file: `threads` sinks, one topic each,
// each storing one message per PublishBatch (what a publisher does at a low rate, or
// an ack of one message). The case a group commit would serve; one was tried and
// measured no faster here (README, Performance).
void BM_SqliteConcurrentSingleWrites(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  constexpr int kPerThread = 5000;
  const std::string path = TempPath("single");
  RemoveDb(path);
  auto broker = Broker::Open("sqlite://" + path);
  if (!broker.ok()) return state.SkipWithError(broker.status().ToString().c_str());
  std::vector<std::unique_ptr<sqlite_internal::SqliteSink>> sinks;
  for (int t = 0; t < threads; ++t) {
    (void)broker->admin().CreateTopic(absl::StrCat("bench-topic-", t));
    auto db = sqlite_internal::Db::Open(
        sqlite_internal::DbConfig{.path = path, .url = "sqlite://" + path});
    if (!db.ok()) return state.SkipWithError(db.status().ToString().c_str());
    sinks.push_back(std::make_unique<sqlite_internal::SqliteSink>(*std::move(db)));
  }
  double rate = 0;
  std::mutex error_mu;
  absl::Status error;
  for (auto _ : state) {
    const absl::Time start = absl::Now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        std::vector<Message> one(1, Message{.data = std::string(kSize, 'x')});
        const std::string topic = absl::StrCat("bench-topic-", t);
        for (int i = 0; i < kPerThread; ++i) {
          if (auto r = sinks[t]->PublishBatch(topic, one); !r.ok()) {
            std::lock_guard<std::mutex> lock(error_mu);
            error = r.status();
            return;
          }
        }
      });
    }
    for (auto& w : workers) w.join();
    rate = threads * kPerThread / absl::ToDoubleSeconds(absl::Now() - start);
  }
  if (!error.ok()) return state.SkipWithError(error.ToString().c_str());
  state.counters["msg_per_s"] = rate;
  sinks.clear();
  RemoveDb(path);
}
BENCHMARK(BM_SqliteConcurrentSingleWrites)
    ->Arg(1)
    ->Arg(4)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
