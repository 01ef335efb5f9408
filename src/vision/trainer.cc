#include "vision/trainer.h"

#include <ATen/Context.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "vision/model.h"
#include "vision/reproducible.h"
#include "vision/threads.h"
#include "vision/weight_average.h"

namespace unibus::vision {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

torch::Tensor LabelsToTensor(const std::uint8_t* labels, std::size_t n) {
  torch::Tensor out = torch::empty({static_cast<std::int64_t>(n)}, torch::kLong);
  std::int64_t* d = out.data_ptr<std::int64_t>();
  for (std::size_t i = 0; i < n; ++i) d[i] = labels[i];
  return out;
}

// Copies one 28x28 image, mirrored left-right when `flip`, moved right by `dx` and
// down by `dy` pixels; pixels moved in from outside are 0 (black, the background).
void AugmentImage(const std::uint8_t* src, std::uint8_t* dst, bool flip, int dx, int dy) {
  for (int r = 0; r < kImageRows; ++r) {
    const int sr = r - dy;
    for (int c = 0; c < kImageCols; ++c) {
      int sc = c - dx;
      if (flip) sc = kImageCols - 1 - sc;
      const bool inside = sr >= 0 && sr < kImageRows && sc >= 0 && sc < kImageCols;
      dst[r * kImageCols + c] = inside ? src[sr * kImageCols + sc] : 0;
    }
  }
}

// A uniform double in [0, 1) from 53 bits of `r` (the same on every platform, unlike
// std::uniform_real_distribution).
double Uniform(std::uint64_t r) { return static_cast<double>(r >> 11) * 0x1.0p-53; }

// Random erasing (Zhong et al. 2017): blanks one rectangle of 2-25 % of the image with
// aspect ratio 0.3-3.3 by random pixels; gives up after 10 tries at a rectangle that fits.
void EraseRandomRectangle(std::uint8_t* image, std::mt19937_64& rng) {
  constexpr double kMinArea = 0.02, kMaxArea = 0.25, kMinAspect = 0.3;
  const double log_min = std::log(kMinAspect), log_max = -std::log(kMinAspect);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double area =
        (kMinArea + (kMaxArea - kMinArea) * Uniform(rng())) * kImageRows * kImageCols;
    const double aspect = std::exp(log_min + (log_max - log_min) * Uniform(rng()));
    const int h = static_cast<int>(std::lround(std::sqrt(area * aspect)));
    const int w = static_cast<int>(std::lround(std::sqrt(area / aspect)));
    if (h < 1 || w < 1 || h >= kImageRows || w >= kImageCols) continue;
    const int top = static_cast<int>(rng() % static_cast<std::uint64_t>(kImageRows - h + 1));
    const int left = static_cast<int>(rng() % static_cast<std::uint64_t>(kImageCols - w + 1));
    for (int r = top; r < top + h; ++r) {
      for (int c = left; c < left + w; ++c) {
        image[r * kImageCols + c] = static_cast<std::uint8_t>(rng() >> 56);
      }
    }
    return;
  }
}

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
};

Evaluation Evaluate(FashionCnn& model, const Dataset& data, std::size_t n) {
  constexpr std::size_t kBatch = 500;
  model->eval();
  torch::NoGradGuard no_grad;
  double loss = 0;
  std::int64_t correct = 0;
  for (std::size_t begin = 0; begin < n; begin += kBatch) {
    const std::size_t b = std::min(kBatch, n - begin);
    torch::Tensor logits = model->forward(ImagesToTensor(data.image(begin), b));
    torch::Tensor labels = LabelsToTensor(data.labels.data() + begin, b);
    loss += torch::nn::functional::cross_entropy(logits, labels).item<double>() * b;
    correct += logits.argmax(1).eq(labels).sum().item<std::int64_t>();
  }
  return {loss / n, static_cast<double>(correct) / n};
}

absl::Status CheckConfig(const TrainConfig& c, const Dataset& train, const Dataset& test) {
  if (c.epochs < 1)
    return absl::InvalidArgumentError(absl::StrCat("epochs must be >= 1, got ", c.epochs));
  if (c.batch_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("batch size must be >= 1, got ", c.batch_size));
  }
  if (!(c.learning_rate > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("learning rate must be > 0, got ", c.learning_rate));
  }
  if (!(c.weight_decay >= 0 && c.weight_decay < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("weight decay must be in [0, 1), got ", c.weight_decay));
  }
  if (!(c.momentum >= 0 && c.momentum < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("momentum must be in [0, 1), got ", c.momentum));
  }
  if (c.max_shift < 0 || c.max_shift >= kImageRows) {
    return absl::InvalidArgumentError(
        absl::StrCat("max shift must be in [0, ", kImageRows, "), got ", c.max_shift));
  }
  if (!(c.label_smoothing >= 0 && c.label_smoothing < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("label smoothing must be in [0, 1), got ", c.label_smoothing));
  }
  if (!(c.random_erasing >= 0 && c.random_erasing <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("random erasing probability must be in [0, 1], got ", c.random_erasing));
  }
  if (!(c.ema_decay >= 0 && c.ema_decay < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("EMA decay must be in [0, 1) (0: no weight average), got ", c.ema_decay));
  }
  if (c.threads < 1)
    return absl::InvalidArgumentError(absl::StrCat("threads must be >= 1, got ", c.threads));
  if (train.size() == 0 || test.size() == 0) {
    return absl::InvalidArgumentError("training and test sets must not be empty");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TrainResult> Train(const TrainConfig& config, const Dataset& train,
                                  const Dataset& test, const std::string& model_path,
                                  const std::function<void(const EpochStats&)>& on_epoch) {
  if (absl::Status s = CheckConfig(config, train, test); !s.ok()) return s;
  const std::size_t n_train =
      config.train_limit > 0 ? std::min(config.train_limit, train.size()) : train.size();
  const std::size_t n_test =
      config.test_limit > 0 ? std::min(config.test_limit, test.size()) : test.size();
  const std::size_t batch = static_cast<std::size_t>(config.batch_size);
  const auto start = Clock::now();
  TrainResult result;
  try {
    SetCpuThreads(config.threads);
    at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
    result.cpu_kernels = CpuKernelsInUse();
    // Made before seeding, so its random initialisation does not shift the seeded stream
    // (a run without averaging draws the same numbers as before averaging existed).
    FashionCnn average{nullptr};
    if (config.ema_decay > 0) average = FashionCnn();
    torch::manual_seed(config.seed);
    std::mt19937_64 rng(config.seed);
    FashionCnn model;
    if (!average.is_empty()) CopyWeights(model, average);
    result.parameters = ParameterCount(model);
    result.architecture = kArchitecture;
    result.train_images = n_train;
    result.test_images = n_test;
    std::unique_ptr<torch::optim::Optimizer> optimizer;
    if (config.optimizer == Optimizer::kSgd) {
      optimizer = std::make_unique<torch::optim::SGD>(model->parameters(),
                                                      torch::optim::SGDOptions(config.learning_rate)
                                                          .momentum(config.momentum)
                                                          .nesterov(config.momentum > 0)
                                                          .weight_decay(config.weight_decay));
    } else {
      optimizer = std::make_unique<torch::optim::AdamW>(
          model->parameters(),
          torch::optim::AdamWOptions(config.learning_rate).weight_decay(config.weight_decay));
    }

    const std::size_t steps_per_epoch = (n_train + batch - 1) / batch;
    const double total_steps = static_cast<double>(steps_per_epoch) * config.epochs;
    std::vector<std::uint32_t> order(n_train);
    std::iota(order.begin(), order.end(), 0u);
    std::vector<std::uint8_t> images(batch * kImageBytes), labels(batch);
    const int shifts = 2 * config.max_shift + 1;
    std::size_t step = 0;
    double lr = config.learning_rate;

    for (int epoch = 1; epoch <= config.epochs; ++epoch) {
      const auto epoch_start = Clock::now();
      std::shuffle(order.begin(), order.end(), rng);
      model->train();
      double loss_sum = 0;
      std::int64_t correct = 0;
      for (std::size_t begin = 0; begin < n_train; begin += batch, ++step) {
        const std::size_t b = std::min(batch, n_train - begin);
        for (std::size_t i = 0; i < b; ++i) {
          const std::uint32_t k = order[begin + i];
          std::uint8_t* dst = images.data() + i * kImageBytes;
          labels[i] = train.labels[k];
          if (config.augment) {
            const std::uint64_t r = rng();
            const bool flip = (r & 1) != 0;
            const int dx = static_cast<int>((r >> 8) % shifts) - config.max_shift;
            const int dy = static_cast<int>((r >> 24) % shifts) - config.max_shift;
            AugmentImage(train.image(k), dst, flip, dx, dy);
            if (config.random_erasing > 0 && Uniform(rng()) < config.random_erasing) {
              EraseRandomRectangle(dst, rng);
            }
          } else {
            std::copy_n(train.image(k), kImageBytes, dst);
          }
        }
        // Cosine decay from the peak rate to 0 over the whole run.
        lr = config.learning_rate * 0.5 * (1 + std::cos(M_PI * step / total_steps));
        for (auto& group : optimizer->param_groups()) group.options().set_lr(lr);
        torch::Tensor x = ImagesToTensor(images.data(), b);
        torch::Tensor y = LabelsToTensor(labels.data(), b);
        torch::Tensor logits = model->forward(x);
        torch::Tensor loss = torch::nn::functional::cross_entropy(
            logits, y,
            torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(
                config.label_smoothing));
        optimizer->zero_grad();
        loss.backward();
        optimizer->step();
        if (!average.is_empty()) {
          const double warmup = (1.0 + step) / (10.0 + step);
          UpdateWeightAverage(model, average, std::min(config.ema_decay, warmup));
        }
        loss_sum += loss.item<double>() * b;
        correct += logits.argmax(1).eq(y).sum().item<std::int64_t>();
      }
      const Evaluation raw = Evaluate(model, test, n_test);
      const Evaluation eval = average.is_empty() ? raw : Evaluate(average, test, n_test);
      EpochStats stats;
      stats.epoch = epoch;
      stats.train_loss = loss_sum / n_train;
      stats.train_accuracy = static_cast<double>(correct) / n_train;
      stats.test_loss = eval.loss;
      stats.test_accuracy = eval.accuracy;
      stats.raw_test_loss = raw.loss;
      stats.raw_test_accuracy = raw.accuracy;
      stats.learning_rate = lr;
      stats.seconds = SecondsSince(epoch_start);
      result.epochs.push_back(stats);
      if (on_epoch) on_epoch(stats);
    }
    FashionCnn& saved = average.is_empty() ? model : average;
    saved->eval();
    result.test_accuracy = result.epochs.back().test_accuracy;
    result.version = ModelVersion(saved);
    result.seconds = SecondsSince(start);
    if (absl::Status s = SaveModel(saved, model_path); !s.ok()) return s;
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    return absl::InternalError(absl::StrCat("training failed in LibTorch: ", what));
  }
  return result;
}

}  // namespace unibus::vision
