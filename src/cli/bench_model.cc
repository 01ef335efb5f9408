// unibus bench-model: the CNN's throughput per core at several batch sizes.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "cli/common.h"
#include "cli/subcommands.h"
#include "vision/classifier.h"
#include "vision/idx.h"
#include "vision/threads.h"

namespace unibus::cli {
namespace {

struct BenchModelOptions {
  std::string model = "models/fashion_cnn.pt";
  std::string data = vision::kDefaultFashionMnistDir;
  std::vector<int> batches = {1, 8, 16, 32};  // the first is the baseline
  int repetitions = 7;                        // per batch size; min and median reported
  int images = 4096;                          // classified per repetition
  int threads = 1;                            // LibTorch threads (1 = per core)
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
  absl::StatusOr<vision::Classifier> classifier =
      vision::Classifier::Load(o.model, {.threads = o.threads});
  if (!classifier.ok()) return Fail(classifier.status());
  absl::StatusOr<vision::Dataset> test = vision::LoadFashionMnist(o.data, vision::Split::kTest);
  if (!test.ok()) return Fail(test.status());
  for (int b : o.batches) {
    if (static_cast<std::size_t>(b) > test->size()) {
      return Fail(absl::InvalidArgumentError(
          absl::StrFormat("batch %d is larger than the %d test images", b, test->size())));
    }
  }
  std::cout << absl::StreamFormat(
      "model %s (%s), %d thread(s), %d images x %d repetitions per batch size\n", o.model,
      classifier->version(), o.threads, o.images, o.repetitions);
  std::cout << absl::StreamFormat("%6s %14s %14s %12s %14s\n", "batch", "best img/s",
                                  "median img/s", "ms/batch",
                                  "vs batch " + std::to_string(o.batches[0]));
  double baseline = 0;
  for (int b : o.batches) {
    absl::Status error;
    const Figures f = Measure(*classifier, *test, b, o, &error);
    if (!error.ok()) return Fail(error);
    if (baseline == 0) baseline = f.median;
    std::cout << absl::StreamFormat("%6d %14.0f %14.0f %12.3f %13.2fx\n", b, f.best, f.median,
                                    1e3 * b / f.median, f.median / baseline);
  }
  return 0;
}

}  // namespace

void setup_bench_model(CLI::App& app) {
  auto o = std::make_shared<BenchModelOptions>();
  auto* cmd = app.add_subcommand(
      "bench-model", "measure the CNN's images/s per core at several batch sizes (median, best)");
  cmd->add_option("--model", o->model, "model file")->capture_default_str();
  cmd->add_option("--data", o->data, "directory of the Fashion-MNIST IDX files")
      ->capture_default_str();
  cmd->add_option("--batches", o->batches, "batch sizes; the first is the baseline of the ratios")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->delimiter(',');
  cmd->add_option("--repetitions", o->repetitions, "timed runs per batch size")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--images", o->images, "images classified per run")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--threads", o->threads, "LibTorch threads (1 measures one core)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->callback([o] { Exit(run_bench_model(*o)); });
}

}  // namespace unibus::cli
