// unibus classify [--url URL] [--out-url URL] [--max-batch 16] [--max-wait-ms 2]
//                 [--workers N] [--model PATH] [--metrics HOST:PORT] [--wait-for-topics]
//                 [--ui HOST:PORT]
// Runs until SIGTERM/SIGINT: then it stops pulling, classifies the batch in hand,
// publishes its predictions, acks its images and exits 0.
#include <iostream>
#include <thread>

#include "cli/common.h"
#include "cli/latency_flags.h"
#include "cli/metrics_server.h"
#include "cli/model_path.h"
#include "cli/subcommands.h"
#include "cli/ui_server.h"
#include "pipeline/stages.h"
#include "spdlog/logger.h"
#include "vision/pipeline_model.h"
#include "vision/threads.h"

namespace unibus::cli {
namespace {

struct ClassifyCliOptions {
  BrokerFlags broker;
  std::string out_url;
  std::string model;  // empty: FindModel searches DefaultModelPlaces()
  int max_wait_ms = 2;
  double p99_target_ms = 0;  // --p99-target-ms; 0: off
  std::string ack_deadline = "10s";
  pipeline::ClassifyOptions classify;
  MetricsFlags metrics;
  bool wait_for_topics = false;
  UiFlags ui;
};

int run_classify(const ClassifyCliOptions& o) {
  // LibTorch frees and reallocates its activations on every batch; with glibc's
  // default thresholds each worker thread's arena hands them back to the kernel and
  // faults them in again (measured in the pipeline: 3x the CPU per image, worse as
  // batches grow under load).
  vision::KeepFreedMemoryForReuse();
  InstallStopHandler();           // a signal during the model load ends the run after it, cleanly
  pipeline::ClassifyStats stats;  // before the registry: its collector reads stats
  auto registry = std::make_shared<MetricsRegistry>();
  auto server = MetricsServer::Start(o.metrics, registry);
  if (!server.ok()) return Fail(server.status());
  auto ui_state = std::make_shared<UiState>("classify");
  auto ui = UiServer::Start(o.ui, ui_state);
  if (!ui.ok()) return Fail(ui.status());
  auto model = FindModel(o.model, DefaultModelPlaces());
  if (!model.ok()) return Fail(model.status());
  std::cerr << "classify: model " << *model << "\n";
  auto factory = vision::CnnModelFactory(*model);
  if (!factory.ok()) return Fail(factory.status());
  if (StopRequested()) {
    std::cerr << "classify: stopped while loading the model; took no image\n";
    return 0;
  }
  auto in = OpenBroker(o.broker);
  if (!in.ok()) return Fail(in.status());
  auto out = o.out_url.empty() ? in : OpenBrokerUrl(o.out_url, o.broker);
  if (!out.ok()) return Fail(out.status());
  pipeline::ClassifyOptions c = o.classify;
  c.max_wait = absl::Milliseconds(o.max_wait_ms);
  if (auto t = UseP99Target(o.p99_target_ms, c); !t.ok()) return Fail(t);
  auto deadline = ParseDuration(o.ack_deadline);
  if (!deadline.ok()) return Fail(deadline.status());
  c.ack_deadline = *deadline;
  c.logger = Logger();
  c.metrics = registry;
  if (*server) (*server)->SetReady(absl::UnavailableError("waiting for topics"));
  const auto log = [](const std::string& line) { Logger()->warn("classify: {}", line); };
  absl::Status topics = EnsureTopic(*in, c.images_topic, o.wait_for_topics, log);
  // The predictions publisher creates its topic where the backend can (or, like
  // librdkafka's mock cluster, on the first produce); waits only when told to.
  if (topics.ok() && o.wait_for_topics)
    topics = EnsureTopic(*out, c.predictions_topic, /*wait_only=*/true, log);
  if (!topics.ok()) {
    if (!absl::IsCancelled(topics)) return Fail(topics);
    std::cerr << "classify: " << topics.message() << "; classified nothing\n";
    return 0;
  }
  if (*ui) {
    ui_state->Attach(&c, nullptr);
    ui_state->CountDeadLettersWith([&stats] { return stats.rejected.load(); });
  }
  AddStageMetrics(*registry, *in, "classify", c.subscription,
                  {{"unibus_classify_images_total", "Images classified and published.",
                    [&] { return double(stats.classified.load()); }},
                   {"unibus_classify_rejected_total", "Images dead-lettered as bad input.",
                    [&] { return double(stats.rejected.load()); }},
                   {"unibus_classify_batches_total", "Model calls (micro-batches).",
                    [&] { return double(stats.batches.load()); }}});
  if (*server) (*server)->SetReady(absl::UnavailableError("loading the model"));
  std::atomic<bool> stop{false};
  std::thread watcher([&] {
    while (!StopRequested() && !stop) {
      // Ready once every worker has its model loaded and takes images.
      if (*server && stats.ready_workers.load() >= c.workers) (*server)->SetReady(absl::OkStatus());
      absl::SleepFor(absl::Milliseconds(50));
    }
    stop = true;
  });
  auto s = pipeline::RunClassifier(*in, *out, *factory, c, stop, &stats);
  stop = true;
  watcher.join();
  std::cerr << "classified " << stats.classified.load() << " images in " << stats.batches.load()
            << " batches; rejected " << stats.rejected.load() << "\n";
  if (c.latency_target) std::cerr << "classify: " << P99TargetSummary(c) << "\n";
  if (s.ok() && stats.classified.load() == 0 && stats.rejected.load() == 0) {
    // Not an error (a worker may simply have had no work), but never silent: the
    // usual cause is a subscription that started after the images were published.
    Logger()->warn(
        "classify: subscription '{}' (topic '{}') delivered no image. A subscription gets "
        "what is published after it exists, and --from-beginning history only where the "
        "topic retains it (see README, start position); run classify before feed, or create "
        "the subscription first (unibus subscriptions create {} --topic {} --from-beginning)",
        c.subscription, c.images_topic, c.subscription, c.images_topic);
  }
  return s.ok() ? 0 : Fail(s);
}

}  // namespace

void setup_classify(CLI::App& app) {
  auto opts = std::make_shared<ClassifyCliOptions>();
  opts->classify.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto* cmd =
      app.add_subcommand("classify", "classify images in micro-batches and publish predictions");
  cmd->add_option("--subscription,-s", opts->classify.subscription, "images subscription");
  cmd->add_option("--topic,-t", opts->classify.images_topic, "images topic");
  cmd->add_option("--predictions-topic", opts->classify.predictions_topic, "predictions topic");
  cmd->add_option("--out-url", opts->out_url, "broker for predictions (default: the input broker)");
  cmd->add_option("--max-batch", opts->classify.max_batch, "images per model call")
      ->check(Positive());
  cmd->add_option("--max-wait-ms", opts->max_wait_ms, "wait this long to fill a batch")
      ->check(NonNegative());
  AddP99TargetFlag(cmd, &opts->p99_target_ms);
  cmd->add_option("--workers", opts->classify.workers, "worker threads, one model each")
      ->check(Positive());
  cmd->add_option(
      "--model", opts->model,
      "model file (default: $UNIBUS_MODEL, <prefix>/share/unibus/, the source tree, ./models/)");
  cmd->add_option("--ack-deadline", opts->ack_deadline,
                  "if this process dies, its images go to others after this");
  AddBrokerFlags(cmd, &opts->broker);
  AddMetricsFlags(cmd, &opts->metrics);
  AddWaitForTopicsFlag(cmd, &opts->wait_for_topics);
  AddUiFlags(cmd, &opts->ui, /*with_keep=*/false);
  cmd->callback([opts] { Exit(run_classify(*opts)); });
}

}  // namespace unibus::cli
