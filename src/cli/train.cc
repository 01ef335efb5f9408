// unibus train: trains the Fashion-MNIST CNN from a fixed seed.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_format.h"
#include "cli/common.h"
#include "cli/subcommands.h"
#include "vision/idx.h"
#include "vision/reproducible.h"
#include "vision/threads.h"
#include "vision/trainer.h"
#include "vision/training_report.h"

namespace unibus::cli {
namespace {

struct TrainOptions {
  std::string data = vision::kDefaultFashionMnistDir;  // directory of the IDX .gz files
  std::string out = "models/fashion_cnn.pt";           // the model file
  std::string csv;                                     // default: --out with .csv
  std::string plot;                                    // default: --out with .png
  std::string card;                                    // default: --out with .json
  bool native_cpu = false;          // skip pinning the CPU kernels (vision/reproducible.h)
  bool quiet = false;               // no per-epoch progress
  std::string optimizer = "adamw";  // sets config.optimizer: adamw or sgd
  std::optional<double> momentum;   // sets config.momentum; sgd only
  vision::TrainConfig config;
};

std::string WithExtension(const std::string& path, const char* ext) {
  return std::filesystem::path(path).replace_extension(ext).string();
}

int run_train(const TrainOptions& o) {
  if (o.momentum && o.optimizer != "sgd") {
    return Fail(absl::InvalidArgumentError(
        "--momentum applies to SGD only; add --optimizer sgd, or drop --momentum for AdamW"));
  }
  // Before LibTorch runs anything: re-executes this command with the pinned kernels.
  if (!o.native_cpu) {
    if (absl::Status s = vision::PinCpuKernelsOrReexec(); !s.ok()) return Fail(s);
  }
  vision::KeepFreedMemoryForReuse();
  vision::TrainConfig config = o.config;
  config.optimizer = o.optimizer == "sgd" ? vision::Optimizer::kSgd : vision::Optimizer::kAdamW;
  if (o.momentum) config.momentum = *o.momentum;
  absl::StatusOr<vision::Dataset> train = vision::LoadFashionMnist(o.data, vision::Split::kTrain);
  if (!train.ok()) return Fail(train.status());
  absl::StatusOr<vision::Dataset> test = vision::LoadFashionMnist(o.data, vision::Split::kTest);
  if (!test.ok()) return Fail(test.status());
  const std::string csv = o.csv.empty() ? WithExtension(o.out, ".csv") : o.csv;
  const std::string plot = o.plot.empty() ? WithExtension(o.out, ".png") : o.plot;
  const std::string card = o.card.empty() ? WithExtension(o.out, ".json") : o.card;
  if (auto dir = std::filesystem::path(o.out).parent_path(); !dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
  }
  std::cout << absl::StreamFormat(
      "training on %d images, testing on %d, %d epochs, seed %d, batch %d, %d thread(s), "
      "CPU kernels %s\n",
      config.train_limit > 0 ? std::min(config.train_limit, train->size()) : train->size(),
      config.test_limit > 0 ? std::min(config.test_limit, test->size()) : test->size(),
      config.epochs, config.seed, config.batch_size, config.threads,
      o.native_cpu ? "native (not pinned: reproducible on this CPU type only)"
                   : "pinned to AVX2 (ATEN_CPU_CAPABILITY, DNNL_MAX_CPU_ISA, OPENBLAS_CORETYPE)");
  absl::StatusOr<vision::TrainResult> result = vision::Train(
      config, *train, *test, o.out,
      [&o, &config, &csv, spent = 0.0,
       so_far = vision::TrainResult()](const vision::EpochStats& e) mutable {
        spent += e.seconds;
        // The CSV so far, so a quiet run's progress can be followed.
        so_far.epochs.push_back(e);
        if (absl::Status s = vision::WriteTrainingCsv(so_far, csv); !s.ok()) {
          std::cerr << "unibus: warning: " << s.message() << std::endl;
        }
        if (o.quiet) return;
        const int left = config.epochs - e.epoch;
        std::cout << absl::StreamFormat(
                         "epoch %2d/%d  train loss %.4f acc %.4f  test loss %.4f acc %.4f  lr "
                         "%.2e  %.1fs  eta %.0fs",
                         e.epoch, config.epochs, e.train_loss, e.train_accuracy, e.test_loss,
                         e.test_accuracy, e.learning_rate, e.seconds,
                         e.epoch > 0 ? spent / e.epoch * left : 0.0)
                  << std::endl;
      });
  if (!result.ok()) return Fail(result.status());
  if (absl::Status s = vision::WriteTrainingCsv(*result, csv); !s.ok()) return Fail(s);
  if (absl::Status s = vision::WriteModelCard(config, *result, o.out, card); !s.ok()) {
    return Fail(s);
  }
  std::cout << absl::StreamFormat(
      "test accuracy %.4f after %d epochs in %.1fs; %d parameters; version %s\n"
      "wrote %s, %s, %s\n",
      result->test_accuracy, config.epochs, result->seconds, result->parameters, result->version,
      o.out, csv, card);
  // The plot is a convenience: without gnuplot the run still succeeded.
  if (absl::Status s = vision::PlotTrainingCsv(csv, plot); !s.ok()) {
    std::cerr << "unibus: warning: " << s.message() << std::endl;
  } else {
    std::cout << "wrote " << plot << "\n";
  }
  return 0;
}

}  // namespace

void setup_train(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  auto* cmd =
      app.add_subcommand("train", "train the Fashion-MNIST CNN (LibTorch) from a fixed seed");
  cmd->add_option("--data", o->data,
                  "directory with {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz")
      ->capture_default_str();
  cmd->add_option("--epochs", o->config.epochs, "passes over the training set")
      ->capture_default_str()
      ->check(Positive());
  cmd->add_option("--seed", o->config.seed, "seed of weights, dropout, shuffling and flips")
      ->capture_default_str();
  cmd->add_option("--batch-size", o->config.batch_size, "images per optimizer step")
      ->capture_default_str()
      ->check(Positive());
  cmd->add_option("--optimizer", o->optimizer,
                  "adamw (Loshchilov and Hutter, 2019) or sgd (with Nesterov momentum)")
      ->capture_default_str()
      ->check(CLI::IsMember({"adamw", "sgd"}));
  cmd->add_option("--lr", o->config.learning_rate, "peak learning rate (cosine decay to 0)")
      ->capture_default_str()
      ->check(PositiveReal());
  cmd->add_option("--weight-decay", o->config.weight_decay,
                  "adamw: decoupled weight decay per step, times the learning rate; sgd: L2 "
                  "coefficient added to the gradient; in [0, 1)")
      ->capture_default_str()
      ->check(RealIn(0, 1, /*hi_open=*/true));
  cmd->add_option("--momentum", o->momentum, "sgd only: Nesterov momentum, in [0, 1) (default 0.9)")
      ->check(RealIn(0, 1, /*hi_open=*/true));
  cmd->add_option("--threads", o->config.threads,
                  "LibTorch threads; more than free cores slows training down a lot")
      ->capture_default_str()
      ->check(Positive());
  cmd->add_flag("!--no-augment", o->config.augment,
                "do not flip or shift training images at random");
  cmd->add_option("--max-shift", o->config.max_shift,
                  "with augmentation, shift images by up to N pixels each way (random crop)")
      ->capture_default_str()
      ->check(CLI::Range(0, 27));
  cmd->add_option("--label-smoothing", o->config.label_smoothing,
                  "cross-entropy label smoothing in [0, 1)")
      ->capture_default_str()
      ->check(RealIn(0, 1, /*hi_open=*/true));
  cmd->add_option("--random-erasing", o->config.random_erasing,
                  "with augmentation, probability of blanking a random rectangle of the image "
                  "with random pixels (random erasing), in [0, 1]")
      ->capture_default_str()
      ->check(RealIn(0, 1, /*hi_open=*/false));
  cmd->add_option("--ema-decay", o->config.ema_decay,
                  "save an exponential moving average of the weights with this decay per step, "
                  "in [0, 1) (0: the last weights)")
      ->capture_default_str()
      ->check(RealIn(0, 1, /*hi_open=*/true));
  cmd->add_option("--train-limit", o->config.train_limit,
                  "train on the first N images only (0: all)")
      ->capture_default_str();
  cmd->add_option("--test-limit", o->config.test_limit,
                  "evaluate on the first N test images only (0: all)")
      ->capture_default_str();
  cmd->add_flag("--native-cpu", o->native_cpu,
                "use the fastest kernels of this CPU instead of the pinned AVX2 ones: faster on "
                "AVX-512 machines, but the weights then differ from other CPU types'");
  cmd->add_flag("--quiet,-q", o->quiet, "no per-epoch progress line (loss, accuracy, time left)");
  cmd->add_option("--out", o->out, "model file to write")->capture_default_str();
  cmd->add_option("--csv", o->csv, "per-epoch loss and accuracy (default: --out with .csv)");
  cmd->add_option("--plot", o->plot, "PNG plot drawn by gnuplot (default: --out with .png)");
  cmd->add_option("--card", o->card, "JSON model card (default: --out with .json)");
  cmd->callback([o] { Exit(run_train(*o)); });
}

}  // namespace unibus::cli
