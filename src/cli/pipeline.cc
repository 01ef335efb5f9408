// unibus pipeline [--in URL] [--out URL] [--db DB] [--count N] [--rate R] [--report FILE]
//                 [--run-id ID] [--fresh] [--keep-topics] [--ui HOST:PORT [--ui-keep]]
//                 [--metrics HOST:PORT] [--quiet]
// feed + classify + sink together; prints the report and writes it as JSON. A run
// uses its own topics and subscriptions and never deletes or empties anything it did
// not create, unless --fresh.
#include "pipeline/pipeline.h"

#include <fstream>
#include <iostream>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "cli/common.h"
#include "cli/latency_flags.h"
#include "cli/metrics_server.h"
#include "cli/model_path.h"
#include "cli/progress.h"
#include "cli/subcommands.h"
#include "cli/ui_server.h"
#include "vision/idx.h"
#include "vision/pipeline_model.h"
#include "vision/threads.h"

namespace unibus::cli {
namespace {

struct PipelineCliOptions {
  BrokerFlags broker;  // --url: both in and out unless --in/--out say otherwise
  std::string in, out;
  std::string data = vision::kDefaultFashionMnistDir;
  std::string model;  // empty: FindModel searches DefaultModelPlaces()
  std::string report = "pipeline-report.json";
  int max_wait_ms = 2;
  double p99_target_ms = 0;  // --p99-target-ms; 0: off
  pipeline::PipelineOptions p;
  UiFlags ui;
  MetricsFlags metrics;
  bool quiet = false;
};

int run_pipeline(const PipelineCliOptions& o) {
  auto ui_state = std::make_shared<UiState>("pipeline");
  auto ui = UiServer::Start(o.ui, ui_state);  // before the model loads: a busy port fails fast
  if (!ui.ok()) return Fail(ui.status());
  auto registry = std::make_shared<MetricsRegistry>();
  auto server = MetricsServer::Start(o.metrics, registry);
  if (!server.ok()) return Fail(server.status());
  auto images = vision::LoadTestImages(o.data);
  if (!images.ok()) return Fail(images.status());
  // LibTorch frees and reallocates its activations on every batch; with glibc's
  // default thresholds each worker thread's arena hands them back to the kernel and
  // faults them in again (measured in the pipeline: 3x the CPU per image, worse as
  // batches grow under load).
  vision::KeepFreedMemoryForReuse();
  auto model = FindModel(o.model, DefaultModelPlaces());
  if (!model.ok()) return Fail(model.status());
  auto factory = vision::CnnModelFactory(*model);
  if (!factory.ok()) return Fail(factory.status());
  auto url = ResolveUrl(o.broker);
  if (!url.ok()) return Fail(url.status());
  pipeline::PipelineOptions p = o.p;
  p.in_url = o.in.empty() ? *url : o.in;
  p.out_url = o.out.empty() ? *url : o.out;
  p.classify.max_wait = absl::Milliseconds(o.max_wait_ms);
  if (auto t = UseP99Target(o.p99_target_ms, p.classify); !t.ok()) return Fail(t);
  Progress progress("images fed", p.feed.count == 0 ? images->size() : p.feed.count,
                    o.quiet ? Progress::Mode::kQuiet : Progress::Mode::kAuto);
  p.feed.on_progress = [&](std::size_t sent) { progress.Update(sent); };
  p.broker_options = BrokerOptionsForCli(o.broker);
  if (*ui) {
    ui_state->Attach(&p.classify, &p.sink);
    const std::size_t n = images->size();
    ui_state->SetExpected(static_cast<std::int64_t>(p.feed.count ? std::min(p.feed.count, n) : n));
  }
  p.feed.metrics = p.classify.metrics = p.sink.metrics = registry;
  if (*server) (*server)->SetReady(absl::OkStatus());  // its model is found and loads
  auto r = pipeline::RunPipeline(*images, *factory, p);
  if (*ui) ui_state->Finish(r.ok() ? absl::StatusOr<std::string>(r->ToJson()) : r.status());
  // After the report (every return below): --ui-keep leaves the final figures up.
  absl::Cleanup keep_page = [&] {
    if (*ui && o.ui.keep) KeepServingUntilSignal();
  };
  if (!r.ok()) return Fail(r.status());
  progress.Finish(static_cast<std::size_t>(r->sent));
  std::cout << r->ToText();
  if (p.classify.latency_target) std::cout << "  " << P99TargetSummary(p.classify) << "\n";
  if (!o.report.empty()) {
    std::ofstream f(o.report);
    f << r->ToJson() << "\n";
    if (!f) return Fail(absl::UnavailableError("cannot write report to " + o.report));
    std::cout << "  report written to " << o.report << "\n";
  }
  return r->lost == 0 && r->duplicate_rows == 0 ? 0 : 1;
}

}  // namespace

void setup_pipeline(CLI::App& app) {
  auto opts = std::make_shared<PipelineCliOptions>();
  opts->p.classify.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto* cmd =
      app.add_subcommand("pipeline", "feed, classify and store Fashion-MNIST test images; report");
  cmd->add_option("--in", opts->in,
                  "broker for images (default: --url / UNIBUS_URL / sqlite://unibus.db)");
  cmd->add_option("--out", opts->out, "broker for predictions (default: the same)");
  cmd->add_option("--db", opts->p.db, "sqlite:PATH or postgresql://...");
  cmd->add_option("--count,-n", opts->p.feed.count, "images (default: all 10,000)");
  cmd->add_option("--rate", opts->p.feed.rate, "images per second (default: as fast as possible)");
  cmd->add_option("--max-batch", opts->p.classify.max_batch, "images per model call")
      ->check(Positive());
  cmd->add_option("--max-wait-ms", opts->max_wait_ms, "wait this long to fill a batch");
  AddP99TargetFlag(cmd, &opts->p99_target_ms);
  cmd->add_option("--workers", opts->p.classify.workers, "classifier threads")->check(Positive());
  cmd->add_option(
      "--model", opts->model,
      "model file (default: $UNIBUS_MODEL, <prefix>/share/unibus/, the source tree, ./models/)");
  cmd->add_option("--data", opts->data, "directory of the gzip'd IDX files");
  cmd->add_option("--report", opts->report, "write the JSON report here ('' to skip)");
  cmd->add_option("--run-id", opts->p.run_id,
                  "name of this run, in its topics, subscriptions and image ids (default: new)");
  cmd->add_flag("--fresh", opts->p.fresh,
                "use the plain names (images, predictions, classifier, sink): DELETE and "
                "re-create those topics and subscriptions and EMPTY the predictions table first");
  cmd->add_flag("!--keep-topics", opts->p.delete_run_topics,
                "keep the run's topics and subscriptions when it ends (default: delete them)");
  cmd->add_flag("--quiet,-q", opts->quiet,
                "no progress (a bar on a terminal, else a line every 5 s)");
  AddBrokerFlags(cmd, &opts->broker);
  AddUiFlags(cmd, &opts->ui, /*with_keep=*/true);
  AddMetricsFlags(cmd, &opts->metrics);
  cmd->callback([opts] { Exit(run_pipeline(*opts)); });
}

}  // namespace unibus::cli
