// unibus sink [--url URL] [--db sqlite:PATH | postgresql://...]
#include <iostream>
#include <thread>

#include "cli/common.h"
#include "cli/subcommands.h"
#include "pipeline/stages.h"

namespace unibus::cli {
namespace {

struct SinkCliOptions {
  BrokerFlags broker;
  std::string db = "sqlite:predictions.db";
  pipeline::SinkOptions sink;
};

int run_sink(const SinkCliOptions& o) {
  auto store = pipeline::PredictionStore::Open(o.db);
  if (!store.ok()) return Fail(store.status());
  auto broker = OpenBroker(o.broker);
  if (!broker.ok()) return Fail(broker.status());
  InstallStopHandler();
  std::atomic<bool> stop{false};
  std::thread watcher([&] {
    while (!StopRequested() && !stop) absl::SleepFor(absl::Milliseconds(50));
    stop = true;
  });
  std::atomic<std::int64_t> stored{0};
  auto s = pipeline::RunSink(*broker, **store, o.sink, stop, &stored);
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
  cmd->callback([opts] { Exit(run_sink(*opts)); });
}

}  // namespace unibus::cli
