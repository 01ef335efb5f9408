// unibus bench-model: the CNN's throughput per core at several batch sizes and
// inference layouts, as images/s and as a fraction of the core's peak GEMM rate
// measured in the same run, on the same core.
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/common.h"
#include "cli/subcommands.h"
#include "vision/classifier.h"
#include "vision/idx.h"
#include "vision/threads.h"

namespace unibus::cli {
namespace {

const std::map<std::string, vision::InferenceLayout>& Layouts() {
  static const auto* const kLayouts = new std::map<std::string, vision::InferenceLayout>{
      {"module", vision::InferenceLayout::kModule},
      {"folded", vision::InferenceLayout::kFolded},
      {"channels-last", vision::InferenceLayout::kChannelsLast},
      {"mkldnn", vision::InferenceLayout::kMkldnn},
  };
  return *kLayouts;
}

struct BenchModelOptions {
  std::vector<std::string> models = {"models/fashion_cnn.pt"};  // the first is the baseline
  std::string data = vision::kDefaultFashionMnistDir;
  std::vector<int> batches = {1, 8, 16, 32};
  std::vector<std::string> layouts = {"module", "mkldnn"};  // the first is the baseline
  int repetitions = 7;  // per batch size; min and median reported
  int images = 4096;    // classified per repetition
  int threads = 1;      // LibTorch threads (1 = per core)
  int gemm_size = 1024;
  int core = -1;  // CPU to pin to; -1: the one this starts on
};

struct Figures {
  double best = 0;    // images/s of the fastest repetition (min time)
  double median = 0;  // images/s of the median repetition
};

Figures Measure(vision::Classifier& classifier, const vision::Dataset& test, int batch,
                const BenchModelOptions& o, absl::Status* error) {
  using Clock = std::chrono::steady_clock;
  const std::size_t b = static_cast<std::size_t>(batch);
  const std::size_t usable = test.size() - test.size() % b;
  std::vector<double> seconds;
  for (int rep = -1; rep < o.repetitions; ++rep) {  // rep -1 warms up
    std::size_t next = 0;
    const auto start = Clock::now();
    for (int done = 0; done < o.images; done += batch) {
      auto got = classifier.Classify(test.image(next), b);
      if (!got.ok()) {
        *error = got.status();
        return {};
      }
      next = (next + b) % usable;
    }
    if (rep >= 0) seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  const double images = static_cast<double>((o.images + batch - 1) / batch * batch);
  return {images / seconds.front(), images / seconds[seconds.size() / 2]};
}

int run_bench_model(const BenchModelOptions& o) {
  vision::KeepFreedMemoryForReuse();
  const int core = o.core >= 0 ? o.core : sched_getcpu();
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    return Fail(absl::InvalidArgumentError(absl::StrFormat(
        "cannot pin to CPU %d (--core): it is not one this process may use", core)));
  }
  for (const std::string& l : o.layouts) {
    if (Layouts().count(l) == 0) {
      std::vector<std::string> names;
      for (const auto& [name, layout] : Layouts()) names.push_back(name);
      return Fail(absl::InvalidArgumentError(
          absl::StrFormat("unknown layout '%s'; choose from %s", l, absl::StrJoin(names, ", "))));
    }
  }
  absl::StatusOr<vision::Dataset> test = vision::LoadFashionMnist(o.data, vision::Split::kTest);
  if (!test.ok()) return Fail(test.status());
  for (int b : o.batches) {
    if (static_cast<std::size_t>(b) > test->size()) {
      return Fail(absl::InvalidArgumentError(
          absl::StrFormat("batch %d is larger than the %d test images", b, test->size())));
    }
  }
  std::vector<vision::Classifier> classifiers;  // models x layouts
  for (const std::string& model : o.models) {
    for (const std::string& l : o.layouts) {
      absl::StatusOr<vision::Classifier> c =
          vision::Classifier::Load(model, {.threads = o.threads, .layout = Layouts().at(l)});
      if (!c.ok()) return Fail(c.status());
      classifiers.push_back(std::move(*c));
    }
  }
  const double flops = static_cast<double>(vision::FlopsPerImage());
  auto peak = vision::MeasurePeakGflops(o.gemm_size, 5, o.threads);
  if (!peak.ok()) return Fail(peak.status());
  std::cout << absl::StreamFormat(
      "CPU %d, %d thread(s), %d images x %d repetitions per row; %.2f MFLOP per image\n"
      "peak SGEMM, best of 5: BLAS (LibTorch mm %dx%d) %.1f GFLOP/s, oneDNN (1x1 convolution, "
      "%d channels over 32x32) %.1f GFLOP/s; \"of peak\" is of the faster\n",
      core, o.threads, o.images, o.repetitions, flops / 1e6, o.gemm_size, o.gemm_size, peak->blas,
      o.gemm_size, peak->onednn);
  std::cout << absl::StreamFormat("%-28s %-13s %5s %11s %11s %9s %9s %8s %9s\n", "model", "layout",
                                  "batch", "best img/s", "median", "ms/batch", "GFLOP/s", "of peak",
                                  "vs first");
  std::vector<double> baseline(o.batches.size(), 0);
  std::size_t k = 0;
  for (std::size_t m = 0; m < o.models.size(); ++m) {
    for (const std::string& l : o.layouts) {
      vision::Classifier& c = classifiers[k++];
      for (std::size_t bi = 0; bi < o.batches.size(); ++bi) {
        const int b = o.batches[bi];
        absl::Status error;
        const Figures f = Measure(c, *test, b, o, &error);
        if (!error.ok()) return Fail(error);
        if (baseline[bi] == 0) baseline[bi] = f.median;
        const double gflops = f.median * flops / 1e9;
        std::cout << absl::StreamFormat("%-28s %-13s %5d %11.0f %11.0f %9.3f %9.1f %7.2fx %8.2fx\n",
                                        c.version().substr(0, 28), l, b, f.best, f.median,
                                        1e3 * b / f.median, gflops, gflops / peak->best(),
                                        f.median / baseline[bi]);
      }
    }
  }
  auto peak_after = vision::MeasurePeakGflops(o.gemm_size, 5, o.threads);
  if (!peak_after.ok()) return Fail(peak_after.status());
  std::cout << absl::StreamFormat(
      "peak SGEMM again after the runs: BLAS %.1f, oneDNN %.1f GFLOP/s (a large change means "
      "the core was shared)\n",
      peak_after->blas, peak_after->onednn);
  return 0;
}

}  // namespace

void setup_bench_model(CLI::App& app) {
  auto o = std::make_shared<BenchModelOptions>();
  auto* cmd = app.add_subcommand(
      "bench-model",
      "measure the CNN's images/s per core by batch size and layout, and its GFLOP/s as a "
      "fraction of the same core's peak SGEMM rate (the faster of BLAS and oneDNN)");
  cmd->add_option("--model", o->models,
                  "model files (repeat or comma-separate); the first is the baseline")
      ->capture_default_str()
      ->delimiter(',');
  cmd->add_option("--data", o->data, "directory of the Fashion-MNIST IDX files")
      ->capture_default_str();
  cmd->add_option("--batches", o->batches, "batch sizes")
      ->capture_default_str()
      ->check(Positive())
      ->delimiter(',');
  cmd->add_option("--layouts", o->layouts,
                  "inference layouts: module (unfolded batch norm), folded, channels-last, "
                  "mkldnn; the first is the baseline of the ratios")
      ->capture_default_str()
      ->delimiter(',');
  cmd->add_option("--repetitions", o->repetitions, "timed runs per row")
      ->capture_default_str()
      ->check(Positive());
  cmd->add_option("--images", o->images, "images classified per run")
      ->capture_default_str()
      ->check(Positive());
  cmd->add_option("--threads", o->threads, "LibTorch threads (1 measures one core)")
      ->capture_default_str()
      ->check(Positive());
  cmd->add_option("--gemm-size", o->gemm_size,
                  "side of the square matrices of the peak SGEMM (and the channels of its oneDNN "
                  "1x1 convolution)")
      ->capture_default_str()
      ->check(Positive());
  cmd->add_option("--core", o->core, "CPU to pin to (-1: the one it starts on)")
      ->capture_default_str();
  cmd->callback([o] { Exit(run_bench_model(*o)); });
}

}  // namespace unibus::cli
