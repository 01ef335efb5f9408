#include "vision/training_report.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace unibus::vision {
namespace {

bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = absl::StrCat(dir, "/", program);
    if (access(candidate.c_str(), X_OK) == 0) return true;
  }
  return false;
}

// gnuplot strings are single-quoted; a quote inside is doubled.
std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

struct PipeCloser {
  void operator()(FILE* f) const { pclose(f); }
};

}  // namespace

absl::Status WriteTrainingCsv(const TrainResult& result, const std::string& path) {
  std::ofstream out(path, std::ios::trunc);
  out << "epoch,train_loss,train_accuracy,test_loss,test_accuracy,learning_rate,seconds,"
         "raw_test_loss,raw_test_accuracy\n";
  for (const EpochStats& e : result.epochs) {
    out << absl::StrFormat("%d,%.6f,%.6f,%.6f,%.6f,%.8f,%.2f,%.6f,%.6f\n", e.epoch, e.train_loss,
                           e.train_accuracy, e.test_loss, e.test_accuracy, e.learning_rate,
                           e.seconds, e.raw_test_loss, e.raw_test_accuracy);
  }
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write training CSV ", path));
  return absl::OkStatus();
}

absl::Status PlotTrainingCsv(const std::string& csv_path, const std::string& png_path) {
  if (!OnPath("gnuplot")) {
    return absl::FailedPreconditionError(
        absl::StrCat("gnuplot is not installed (not on PATH), so no plot ", png_path,
                     " was drawn; install gnuplot-nox and rerun, the figures are in ", csv_path));
  }
  const std::string script = absl::StrCat(
      "set terminal pngcairo size 1100,450 font 'sans,10'\n", "set output ", Quote(png_path), "\n",
      "set datafile separator ','\n", "set key autotitle columnhead\n", "set grid\n",
      "set xlabel 'epoch'\n", "set multiplot layout 1,2 title 'Fashion-MNIST CNN training'\n",
      "set title 'cross-entropy loss'\n", "plot ", Quote(csv_path),
      " using 1:2 with linespoints title 'train', '' using 1:4 ", "with linespoints title 'test'\n",
      "set title 'accuracy'\n", "set yrange [0.8:1]\n", "set key bottom right\n", "plot ",
      Quote(csv_path), " using 1:3 with linespoints title 'train', '' using 1:5 ",
      "with linespoints title 'test'\n", "unset multiplot\n");
  std::unique_ptr<FILE, PipeCloser> pipe(popen("gnuplot", "w"));
  if (pipe == nullptr) return absl::InternalError("cannot start gnuplot");
  const bool written = std::fwrite(script.data(), 1, script.size(), pipe.get()) == script.size();
  const int status = pclose(pipe.release());
  if (!written || status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("gnuplot failed to draw ", png_path, " from ", csv_path,
                                            " (exit status ", status, ")"));
  }
  return absl::OkStatus();
}

absl::Status WriteModelCard(const TrainConfig& config, const TrainResult& result,
                            const std::string& model_path, const std::string& path) {
  nlohmann::ordered_json card;
  card["model"] = std::filesystem::path(model_path).filename().string();
  card["model_version"] = result.version;
  card["architecture"] = result.architecture;
  card["dataset"] = "Fashion-MNIST (Debian dataset-fashion-mnist)";
  card["test_accuracy"] = result.test_accuracy;
  card["epochs"] = config.epochs;
  card["seed"] = config.seed;
  card["training_seconds"] = result.seconds;
  card["parameters"] = result.parameters;
  card["batch_size"] = config.batch_size;
  card["optimizer"] = config.optimizer == Optimizer::kSgd
                          ? absl::StrCat("SGD, Nesterov momentum ", config.momentum)
                          : std::string("AdamW");
  card["learning_rate"] = config.learning_rate;
  card["weight_decay"] = config.weight_decay;
  std::string augmentation = "none";
  if (config.augment) {
    augmentation = "random left-right flip";
    if (config.max_shift > 0) {
      absl::StrAppend(&augmentation, ", random shift of up to ", config.max_shift,
                      " pixels each way (zero padding)");
    }
  }
  if (config.augment && config.random_erasing > 0) {
    absl::StrAppend(&augmentation, ", random erasing with probability ", config.random_erasing);
  }
  card["augmentation"] = augmentation;
  card["label_smoothing"] = config.label_smoothing;
  card["ema_decay"] = config.ema_decay;
  card["training_threads"] = config.threads;
  card["training_cpu_kernels"] = result.cpu_kernels;
  card["train_images"] = result.train_images;
  card["test_images"] = result.test_images;
  nlohmann::ordered_json epochs = nlohmann::ordered_json::array();
  for (const EpochStats& e : result.epochs) {
    epochs.push_back({{"epoch", e.epoch},
                      {"train_loss", e.train_loss},
                      {"train_accuracy", e.train_accuracy},
                      {"test_loss", e.test_loss},
                      {"test_accuracy", e.test_accuracy},
                      {"raw_test_accuracy", e.raw_test_accuracy},
                      {"seconds", e.seconds}});
  }
  card["per_epoch"] = std::move(epochs);
  std::ofstream out(path, std::ios::trunc);
  out << card.dump(2) << "\n";
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write model card ", path));
  return absl::OkStatus();
}

}  // namespace unibus::vision
