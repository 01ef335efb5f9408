// unibus bench-latency [--url URL] [--db DB] [--count N] [--steps 10] [--quick]
//                      [--csv FILE] [--png FILE] [--max-batch B] [--max-wait-ms W]
//                      [--workers N] [--p99-target-ms X]
// A latency sweep (as Triton's perf_analyzer does): one pipeline run as fast as it
// goes measures the maximum rate; then runs at 10% .. 100% of it, each on its own
// run-scoped topics, give p50/p95/p99 of produced -> stored latency in total and by
// stage. Written as CSV and drawn with gnuplot as latency against throughput.
// Also home of --p99-target-ms (cli/latency_flags.h).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "cli/common.h"
#include "cli/latency_flags.h"
#include "cli/model_path.h"
#include "cli/subcommands.h"
#include "pipeline/pipeline.h"
#include "vision/idx.h"
#include "vision/pipeline_model.h"
#include "vision/threads.h"

namespace unibus::cli {

extern const char kLatencySweepGnuplot[];  // scripts/latency_sweep.gp, compiled in

void AddP99TargetFlag(CLI::App* cmd, double* p99_target_ms) {
  cmd->add_option("--p99-target-ms", *p99_target_ms,
                  "adapt the batch size and wait at run time to keep the p99 of end-to-end latency "
                  "(image published -> prediction published) under this many ms (0: off, fixed "
                  "--max-batch/--max-wait-ms). Rule (AIMD): every 200 images, take their p99; over "
                  "the target with a queue (p99 > 2x the batches' own p99, picked -> published): "
                  "double the batch and halve the wait; over it without one: halve the batch "
                  "(undone if the batches got no faster) and halve the wait only if the excess "
                  "is within it; under 0.7x the target: batch + 1 and wait + 0.25 ms; never above "
                  "--max-batch and --max-wait-ms (where it starts)")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            double ms = 0;
            if (absl::SimpleAtod(v, &ms) && ms >= 0) return "";
            return "--p99-target-ms must be a number of milliseconds >= 0 (0: off), not " + v;
          },
          "MS"));
}

absl::Status UseP99Target(double p99_target_ms, pipeline::ClassifyOptions& c) {
  if (p99_target_ms < 0) return absl::InvalidArgumentError("--p99-target-ms must be >= 0");
  if (p99_target_ms == 0) return absl::OkStatus();
  pipeline::LatencyTargetOptions o;
  o.p99_target = absl::Microseconds(static_cast<std::int64_t>(p99_target_ms * 1000));
  o.max_batch = c.max_batch;
  o.max_wait = c.max_wait;
  auto t = pipeline::LatencyTarget::Create(o);
  if (!t.ok()) return t.status();
  c.latency_target = *std::move(t);
  return absl::OkStatus();
}

std::string P99TargetSummary(const pipeline::ClassifyOptions& c) {
  return c.latency_target ? c.latency_target->Summary() : "";
}

namespace {

struct SweepOptions {
  BrokerFlags broker;  // default: UNIBUS_URL, else a sqlite file in a new temp directory
  std::string db;      // default: sqlite in the same directory
  std::string data = vision::kDefaultFashionMnistDir;
  std::string model;
  std::size_t count = 5000;  // images per point
  int steps = 10;            // points from 10% to 100% of the maximum
  bool quick = false;
  std::string csv = "latency-sweep.csv";
  std::string png = "latency-sweep.png";
  int max_wait_ms = 2;
  double p99_target_ms = 0;
  pipeline::ClassifyOptions classify;
};

std::string Row(double fraction, double offered, const pipeline::PipelineReport& r) {
  const auto st = [](const pipeline::PipelineReport::Stage& s) {
    return absl::StrFormat("%.3f,%.3f,%.3f", s.p50_ms, s.p95_ms, s.p99_ms);
  };
  return absl::StrFormat("%.3f,%.1f,%.1f,%d,%.3f,%.3f,%.3f,%s,%s,%s", fraction, offered,
                         r.throughput, r.stored, r.p50_ms, r.p95_ms, r.p99_ms, st(r.queue),
                         st(r.inference), st(r.delivery));
}

int run_sweep(SweepOptions o) {
  if (o.quick) {
    o.count = std::min<std::size_t>(o.count, 300);
    o.steps = 2;
  }
  if (o.steps < 1) return Fail(absl::InvalidArgumentError("--steps must be at least 1"));
  auto images = vision::LoadTestImages(o.data);
  if (!images.ok()) return Fail(images.status());
  vision::KeepFreedMemoryForReuse();  // as in `pipeline`: see there
  auto model = FindModel(o.model, DefaultModelPlaces());
  if (!model.ok()) return Fail(model.status());
  auto factory = vision::CnnModelFactory(*model);
  if (!factory.ok()) return Fail(factory.status());
  std::filesystem::path tmp;
  if (o.broker.url.empty() && o.broker.broker.empty() && std::getenv("UNIBUS_URL") == nullptr) {
    char dir[] = "/tmp/unibus-bench-latency-XXXXXX";
    if (mkdtemp(dir) == nullptr) return Fail(absl::UnavailableError("cannot create a temp dir"));
    tmp = dir;
    o.broker.url = "sqlite://" + (tmp / "broker.db").string();
    if (o.db.empty()) o.db = "sqlite:" + (tmp / "predictions.db").string();
  }
  if (o.db.empty()) o.db = "sqlite:predictions.db";
  auto url = ResolveUrl(o.broker);
  if (!url.ok()) return Fail(url.status());
  std::ofstream csv(o.csv);
  if (!csv) return Fail(absl::UnavailableError("cannot write " + o.csv + "; give --csv FILE"));
  csv << "fraction,offered_per_s,achieved_per_s,images,p50_ms,p95_ms,p99_ms,"
         "queue_p50_ms,queue_p95_ms,queue_p99_ms,inference_p50_ms,inference_p95_ms,"
         "inference_p99_ms,delivery_p50_ms,delivery_p95_ms,delivery_p99_ms\n";
  // One pipeline run at `rate` (0: as fast as possible).
  const auto run = [&](double rate) -> absl::StatusOr<pipeline::PipelineReport> {
    pipeline::PipelineOptions p;
    p.in_url = p.out_url = *url;
    p.db = o.db;
    p.broker_options = BrokerOptionsForCli(o.broker);
    p.feed.count = o.count;
    p.feed.rate = rate;
    p.classify = o.classify;
    p.classify.max_wait = absl::Milliseconds(o.max_wait_ms);
    // The maximum is the stage's, untuned: the target applies to the sweep's points.
    if (auto s = UseP99Target(rate > 0 ? o.p99_target_ms : 0, p.classify); !s.ok()) return s;
    auto r = pipeline::RunPipeline(*images, *factory, p);
    if (r.ok() && p.classify.latency_target) {
      std::cout << "    " << P99TargetSummary(p.classify) << "\n";
    }
    if (r.ok() && r->lost > 0) {
      return absl::DataLossError(absl::StrCat(r->lost, " images lost in a sweep run"));
    }
    return r;
  };
  std::cout << absl::StrFormat("bench-latency: %d images per point on %s; max rate first\n",
                               o.count, *url);
  auto max = run(0);
  if (!max.ok()) return Fail(max.status());
  const double max_rate = max->throughput;
  std::cout << absl::StrFormat("  max rate %.0f images/s (p50 %.1f, p95 %.1f, p99 %.1f ms)\n",
                               max_rate, max->p50_ms, max->p95_ms, max->p99_ms);
  std::cout << "  fraction  offered/s  achieved/s  p50 ms  p95 ms  p99 ms  "
               "queue p99  inference p99  delivery p99\n";
  for (int i = 0; i < o.steps; ++i) {
    // Evenly from 10% to 100% (one step: 100%).
    const double f = o.steps == 1 ? 1.0 : 0.1 + 0.9 * i / (o.steps - 1);
    const double rate = f * max_rate;
    auto r = run(rate);
    if (!r.ok()) return Fail(r.status());
    csv << Row(f, rate, *r) << "\n" << std::flush;
    std::cout << absl::StrFormat(
        "  %7.0f%%  %9.0f  %10.0f  %6.1f  %6.1f  %6.1f  %9.1f  %13.1f  %12.1f\n", 100 * f, rate,
        r->throughput, r->p50_ms, r->p95_ms, r->p99_ms, r->queue.p99_ms, r->inference.p99_ms,
        r->delivery.p99_ms);
  }
  csv.close();
  if (!csv) return Fail(absl::UnavailableError("cannot write " + o.csv));
  std::cout << "  CSV written to " << o.csv << "\n";
  if (!tmp.empty()) std::filesystem::remove_all(tmp);
  if (o.png.empty()) return 0;
  // gnuplot reads the script on stdin; the file names go in as -e variables.
  const auto quote = [](const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  const std::string vars = absl::StrFormat(
      "csv='%s'; png='%s'; title='unibus pipeline, %d images per point, max %.0f images/s'", o.csv,
      o.png, o.count, max_rate);
  const std::string cmd = "gnuplot -e " + quote(vars) + " -";
  FILE* gp = popen(cmd.c_str(), "w");
  if (gp == nullptr) return Fail(absl::UnavailableError("cannot run gnuplot"));
  std::fputs(kLatencySweepGnuplot, gp);
  const int rc = pclose(gp);
  if (rc != 0) {
    return Fail(absl::UnavailableError(
        absl::StrCat("gnuplot failed (exit ", rc, ") drawing ", o.png,
                     "; is it installed (scripts/setup.sh installs gnuplot-nox)? The CSV is in ",
                     o.csv, "; give --png '' to skip the plot")));
  }
  std::cout << "  plot written to " << o.png << "\n";
  return 0;
}

}  // namespace

void setup_bench_latency(CLI::App& app) {
  auto opts = std::make_shared<SweepOptions>();
  opts->classify.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto* cmd = app.add_subcommand(
      "bench-latency",
      "latency sweep: measure the pipeline's maximum rate, then p50/p95/p99 (total and by "
      "stage) at 10%..100% of it; CSV and a gnuplot PNG of latency against throughput");
  cmd->add_option("--count,-n", opts->count, "images per point (at most the 10,000 test images)")
      ->check(Positive());
  cmd->add_option("--steps", opts->steps, "points from 10% to 100% of the maximum rate")
      ->check(Positive());
  cmd->add_flag("--quick", opts->quick, "a short sweep for tests: 300 images, 10% and 100%");
  cmd->add_option("--csv", opts->csv, "write the sweep here");
  cmd->add_option("--png", opts->png, "draw latency against throughput here ('' to skip)");
  cmd->add_option("--db", opts->db,
                  "sqlite:PATH or postgresql://... (default: in the temp dir, or "
                  "sqlite:predictions.db with --url)");
  cmd->add_option("--max-batch", opts->classify.max_batch, "images per model call")
      ->check(Positive());
  cmd->add_option("--max-wait-ms", opts->max_wait_ms, "wait this long to fill a batch")
      ->check(NonNegative());
  cmd->add_option("--workers", opts->classify.workers, "classifier threads")->check(Positive());
  cmd->add_option("--model", opts->model, "model file (default: as `pipeline`)");
  cmd->add_option("--data", opts->data, "directory of the gzip'd IDX files");
  AddP99TargetFlag(cmd, &opts->p99_target_ms);
  AddBrokerFlags(cmd, &opts->broker);
  cmd->callback([opts] { Exit(run_sweep(*opts)); });
}

}  // namespace unibus::cli
