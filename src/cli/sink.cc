// unibus sink [--url URL] [--db sqlite:PATH | postgresql://...] [--metrics HOST:PORT]
//             [--wait-for-topics]
// Runs until SIGTERM/SIGINT: then it stores and acks the batch in hand and exits 0.
#include <iostream>
#include <thread>

#include "cli/common.h"
#include "cli/metrics_server.h"
#include "cli/subcommands.h"
#include "pipeline/stages.h"
#include "spdlog/logger.h"

namespace unibus::cli {
namespace {

struct SinkCliOptions {
  BrokerFlags broker;
  std::string db = "sqlite:predictions.db";
  pipeline::SinkOptions sink;
  MetricsFlags metrics;
  bool wait_for_topics = false;
};

int run_sink(const SinkCliOptions& o) {
  InstallStopHandler();
  std::atomic<std::int64_t> stored{0};  // before the registry: its collector reads it
  auto registry = std::make_shared<MetricsRegistry>();
  auto server = MetricsServer::Start(o.metrics, registry);
  if (!server.ok()) return Fail(server.status());
  auto store = pipeline::PredictionStore::Open(o.db);
  if (!store.ok()) return Fail(store.status());
  auto broker = OpenBroker(o.broker);
  if (!broker.ok()) return Fail(broker.status());
  if (*server) (*server)->SetReady(absl::UnavailableError("waiting for the predictions topic"));
  if (auto s = EnsureTopic(*broker, o.sink.predictions_topic, o.wait_for_topics,
                           [](const std::string& line) { Logger()->warn("sink: {}", line); });
      !s.ok()) {
    if (!absl::IsCancelled(s)) return Fail(s);
    std::cerr << "sink: " << s.message() << "; stored nothing\n";
    return 0;
  }
  AddStageMetrics(*registry, *broker, "sink", o.sink.subscription,
                  {{"unibus_sink_rows_total", "Predictions upserted and committed.",
                    [&] { return double(stored.load()); }}});
  if (*server) (*server)->SetReady(absl::UnavailableError("subscribing"));
  std::atomic<bool> stop{false};
  std::thread watcher([&] {
    for (int tick = 0; !StopRequested() && !stop; ++tick) {
      // Ready once its subscription exists (RunSink creates it on the topic).
      if (*server && tick % 20 == 0 &&
          broker->admin().DescribeSubscription(o.sink.subscription).ok()) {
        (*server)->SetReady(absl::OkStatus());
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    stop = true;
  });
  pipeline::SinkOptions so = o.sink;
  so.logger = Logger();
  so.metrics = registry;
  auto s = pipeline::RunSink(*broker, **store, so, stop, &stored);
  stop = true;
  watcher.join();
  std::cerr << "stored " << stored.load() << " predictions in " << o.db << "\n";
  return s.ok() ? 0 : Fail(s);
}

}  // namespace

void setup_sink(CLI::App& app) {
  auto opts = std::make_shared<SinkCliOptions>();
  auto* cmd =
      app.add_subcommand("sink", "store predictions in a SQL table keyed by image id (upsert)");
  cmd->add_option("--db", opts->db, "sqlite:PATH or postgresql://USER@HOST:PORT/DB");
  cmd->add_option("--subscription,-s", opts->sink.subscription, "predictions subscription");
  cmd->add_option("--topic,-t", opts->sink.predictions_topic, "predictions topic");
  AddBrokerFlags(cmd, &opts->broker);
  AddMetricsFlags(cmd, &opts->metrics);
  AddWaitForTopicsFlag(cmd, &opts->wait_for_topics);
  cmd->callback([opts] { Exit(run_sink(*opts)); });
}

}  // namespace unibus::cli
