// unibus bench-pipeline: how close the pipeline comes to its model. Each round measures,
// with the same workers and batch size, the model-only ceiling (the workers classify
// preloaded batches, no broker) and then the whole pipeline end to end (feed, classify,
// sink) on a broker (default: sqlite in a temporary directory), and prints the ratio.
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/baselines.h"
#include "cli/bench_stats.h"
#include "cli/common.h"
#include "cli/model_path.h"
#include "cli/subcommands.h"
#include "pipeline/pipeline.h"
#include "vision/idx.h"
#include "vision/pipeline_model.h"
#include "vision/threads.h"

namespace unibus::cli {
namespace {

using bench::Median;
using bench::Min;

struct BenchPipelineOptions {
  std::string url;    // empty: sqlite:// in a temporary directory
  std::string db;     // empty: sqlite: in the same temporary directory
  std::string model;  // empty: FindModel searches DefaultModelPlaces()
  std::string data = vision::kDefaultFashionMnistDir;
  std::size_t images = 10000;  // per round and side; the test set repeats if larger
  int rounds = 3;
  int workers = 2;
  std::size_t max_batch = 16;
  int max_wait_ms = 2;
};

// CPU seconds (user + system) this process has used so far, every thread included.
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

// `n` images cut from `all` (repeating it when n is larger), labels kept.
pipeline::ImageSet Take(const pipeline::ImageSet& all, std::size_t n) {
  pipeline::ImageSet out;
  out.pixels.resize(n * pipeline::kImageBytes);
  out.labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t k = i % all.size();
    std::copy_n(all.pixels.data() + k * pipeline::kImageBytes, pipeline::kImageBytes,
                out.pixels.data() + i * pipeline::kImageBytes);
    out.labels[i] = all.labels[k];
  }
  return out;
}

// The ceiling: `workers` threads, each with its own model as in classify, split the
// images into batches of max_batch and classify them back to back. Models are made and
// warmed up (every batch size used) before the clock starts, as the pipeline's are.
// Returns images per second.
absl::StatusOr<double> ModelOnly(const pipeline::ImageSet& images,
                                 const pipeline::ModelFactory& factory,
                                 const BenchPipelineOptions& o) {
  std::vector<std::unique_ptr<pipeline::Model>> models;
  for (int w = 0; w < o.workers; ++w) {
    auto m = factory();
    if (!m.ok()) return m.status();
    models.push_back(*std::move(m));
  }
  const std::size_t batches = (images.size() + o.max_batch - 1) / o.max_batch;
  std::vector<absl::Status> errors(o.workers);
  std::atomic<std::size_t> next{0};
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < o.workers; ++w) {
    threads.emplace_back([&, w] {
      pipeline::Model& model = *models[w];
      const std::size_t tail = images.size() % o.max_batch;
      for (std::size_t b : {std::min(o.max_batch, images.size()), tail}) {
        if (b == 0) continue;
        if (auto r = model.Classify(images.pixels.data(), b); !r.ok()) errors[w] = r.status();
      }
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      // Batches are handed out one at a time, as a shared subscription would.
      for (std::size_t i = next.fetch_add(1); i < batches && errors[w].ok();
           i = next.fetch_add(1)) {
        const std::size_t begin = i * o.max_batch;
        const std::size_t n = std::min(o.max_batch, images.size() - begin);
        auto r = model.Classify(images.pixels.data() + begin * pipeline::kImageBytes, n);
        if (!r.ok()) errors[w] = r.status();
      }
    });
  }
  while (ready.load() < o.workers) std::this_thread::yield();
  const auto start = std::chrono::steady_clock::now();
  go = true;
  for (auto& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const absl::Status& s : errors) {
    if (!s.ok()) return s;
  }
  return images.size() / seconds;
}

// Removes the temporary directory (and the databases in it) when the run ends.
struct TempDir {
  std::string path;
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

int run_bench_pipeline(const BenchPipelineOptions& o) {
  if (o.images == 0 || o.rounds < 1 || o.workers < 1 || o.max_batch == 0) {
    return Fail(absl::InvalidArgumentError(
        "--images, --rounds, --workers and --max-batch must all be at least 1"));
  }
  auto all = vision::LoadTestImages(o.data);
  if (!all.ok()) return Fail(all.status());
  const pipeline::ImageSet images = Take(*all, o.images);
  vision::KeepFreedMemoryForReuse();
  auto model = FindModel(o.model, DefaultModelPlaces());
  if (!model.ok()) return Fail(model.status());
  auto factory = vision::CnnModelFactory(*model);
  if (!factory.ok()) return Fail(factory.status());

  TempDir tmp;
  if (o.url.empty() || o.db.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "unibus-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return Fail(absl::UnavailableError(
          absl::StrCat("cannot make a temporary directory ", pattern, "; set TMPDIR")));
    }
    tmp.path = pattern;
  }
  const std::string url = o.url.empty() ? absl::StrCat("sqlite://", tmp.path, "/broker.db") : o.url;
  const std::string db = o.db.empty() ? absl::StrCat("sqlite:", tmp.path, "/predictions.db") : o.db;

  const double load_before = LoadAverage();
  std::cout << absl::StrFormat(
      "unibus bench-pipeline: %d images per side, %d round(s), %d worker(s), batch <= %d, "
      "wait <= %d ms\n  broker %s, predictions %s, model %s\n  load average %.2f\n",
      images.size(), o.rounds, o.workers, o.max_batch, o.max_wait_ms, url, db, *model, load_before);
  // Images per CPU second as well: on a shared machine the side with more threads gets
  // more of the cores, which moves images/s but not the CPU each image costs.
  std::vector<double> ceiling, e2e, ratios, ceiling_cpu, e2e_cpu;
  for (int round = 1; round <= o.rounds; ++round) {
    double cpu = ProcessCpuSeconds();
    auto m = ModelOnly(images, *factory, o);
    if (!m.ok()) return Fail(m.status());
    ceiling_cpu.push_back(images.size() / (ProcessCpuSeconds() - cpu));
    cpu = ProcessCpuSeconds();
    pipeline::PipelineOptions p;
    p.in_url = p.out_url = url;
    p.db = db;
    p.run_id = absl::StrCat("bench-", getpid(), "-", round);
    p.classify.workers = o.workers;
    p.classify.max_batch = o.max_batch;
    p.classify.max_wait = absl::Milliseconds(o.max_wait_ms);
    p.broker_options = BrokerOptionsForCli();
    auto r = pipeline::RunPipeline(images, *factory, p);
    if (!r.ok()) return Fail(r.status());
    if (r->lost != 0 || r->duplicate_rows != 0) {
      return Fail(absl::InternalError(absl::StrFormat(
          "round %d: the pipeline lost %d and duplicated %d images; figures would mislead", round,
          r->lost, r->duplicate_rows)));
    }
    // Includes the pipeline's setup (topics, warm-up) and report: a slight overcount.
    e2e_cpu.push_back(images.size() / (ProcessCpuSeconds() - cpu));
    ceiling.push_back(*m);
    e2e.push_back(r->throughput);
    ratios.push_back(r->throughput / *m);
    std::cout << absl::StrFormat(
        "  round %d: model only %8.0f images/s (%6.0f per CPU s), end to end %8.0f images/s "
        "(%6.0f per CPU s): %.2fx, p99 %.1f ms\n",
        round, *m, ceiling_cpu.back(), r->throughput, e2e_cpu.back(), r->throughput / *m,
        r->p99_ms);
  }
  auto row = [](const char* what, const std::vector<double>& v) {
    std::cout << absl::StrFormat("  %-22s min %8.0f  median %8.0f images/s  spread %3.0f %%\n",
                                 what, Min(v), Median(v), 100 * Spread(v));
  };
  row("model only (ceiling)", ceiling);
  row("end to end", e2e);
  std::cout << "  ratio end to end / model only (medians): "
            << RatioOrNoisy(e2e, ceiling, "ceiling") << "\n";
  std::cout << absl::StrFormat("  per-round ratios: min %.2fx median %.2fx\n", Min(ratios),
                               Median(ratios));
  std::cout << absl::StrFormat(
      "  images per CPU second (medians): model only %.0f, end to end %.0f: %.2fx (what the "
      "broker, feed and sink cost on top of the model)\n",
      Median(ceiling_cpu), Median(e2e_cpu), Median(e2e_cpu) / Median(ceiling_cpu));
  const double load_after = LoadAverage();
  std::cout << LoadLine(load_before, load_after);
  return 0;
}

}  // namespace

void setup_bench_pipeline(CLI::App& app) {
  auto o = std::make_shared<BenchPipelineOptions>();
  auto* cmd = app.add_subcommand(
      "bench-pipeline",
      "measure the pipeline end to end against its model-only ceiling (same workers, "
      "preloaded batches, no broker) in the same run, and print the ratio");
  cmd->add_option("--url", o->url,
                  "broker of the images and predictions (default: sqlite:// in a temporary "
                  "directory, removed afterwards)");
  cmd->add_option("--db", o->db,
                  "predictions database (default: sqlite: in the temporary directory)");
  cmd->add_option("--model", o->model, "model file (default: as unibus classify finds it)");
  cmd->add_option("--data", o->data, "directory of the Fashion-MNIST IDX files")
      ->capture_default_str();
  cmd->add_option("--images", o->images, "images per round and side (the test set repeats)")
      ->capture_default_str()
      ->check(Positive());
  cmd->add_option("--rounds", o->rounds, "rounds; each runs model-only then end to end")
      ->capture_default_str()
      ->check(Positive());
  cmd->add_option("--workers", o->workers, "classifier workers (one model thread each)")
      ->capture_default_str()
      ->check(Positive());
  cmd->add_option("--max-batch", o->max_batch, "images per model call")
      ->capture_default_str()
      ->check(Positive());
  cmd->add_option("--max-wait-ms", o->max_wait_ms, "classify's wait for a fuller batch")
      ->capture_default_str()
      ->check(NonNegative());
  cmd->callback([o] { Exit(run_bench_pipeline(*o)); });
}

}  // namespace unibus::cli
