// Training the Fashion-MNIST CNN from a fixed seed.
#ifndef UNIBUS_VISION_TRAINER_H_
#define UNIBUS_VISION_TRAINER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vision/idx.h"

namespace unibus::vision {

// The optimizer of a training run.
enum class Optimizer {
  kAdamW,  // AdamW (Loshchilov and Hutter, 2019): decoupled weight decay
  kSgd,    // SGD with Nesterov momentum; weight decay is L2 added to the gradient
};

struct TrainConfig {
  int epochs = 15;          // passes over the training set
  std::uint64_t seed = 42;  // weights, dropout, shuffling and flips all derive from it
  int batch_size = 128;     // images per optimizer step
  Optimizer optimizer = Optimizer::kAdamW;
  double learning_rate = 2e-3;  // peak rate, decayed to 0 by a cosine schedule
  double weight_decay = 1e-4;   // AdamW: decoupled decay per step (times the rate), in
                                // [0, 1); SGD: L2 coefficient added to the gradient
  double momentum = 0.9;        // SGD only: Nesterov momentum, in [0, 1)
  bool augment = true;          // random left-right flips of training images
  int max_shift = 0;            // with augment: random shift by up to N pixels each way
                                // (a random crop of the image padded with N black pixels)
  double label_smoothing = 0;   // cross-entropy label smoothing while training, in [0, 1)
  double random_erasing = 0;    // with augment: probability in [0, 1] of blanking a random
                                // rectangle (2-25 % of the image, aspect 0.3-3.3) with
                                // random pixels (Zhong et al. 2017, "Random Erasing")
  double ema_decay = 0;         // in [0, 1): 0 saves the trained weights; else saves (and
                                // reports as test_*) an exponential moving average of them,
                                // updated after every step with decay
                                // min(ema_decay, (1 + step) / (10 + step))
  int threads = 1;              // LibTorch intra-op threads while training
  std::size_t train_limit = 0;  // use only the first N training images (0: all)
  std::size_t test_limit = 0;   // evaluate only the first N test images (0: all)
};

struct EpochStats {
  int epoch = 0;              // 1-based
  double train_loss = 0;      // mean cross-entropy over the epoch's batches
  double train_accuracy = 0;  // on the (augmented) training batches, in train mode
  double test_loss = 0;       // mean cross-entropy on the test set, eval mode
  double test_accuracy = 0;
  double raw_test_loss = 0;      // of the trained weights themselves (with ema_decay 0: the
  double raw_test_accuracy = 0;  // same as test_*; else test_* is the averaged weights')
  double learning_rate = 0;      // at the epoch's last step
  double seconds = 0;            // wall time of the epoch, evaluation included
};

struct TrainResult {
  std::vector<EpochStats> epochs;
  double test_accuracy = 0;  // of the saved model (averaged with ema_decay > 0)
  double seconds = 0;        // whole training, evaluation included
  std::int64_t parameters = 0;
  std::string version;  // ModelVersion of the trained weights
  std::string architecture;
  std::size_t train_images = 0;  // images trained on per epoch
  std::size_t test_images = 0;   // images each evaluation used
  std::string cpu_kernels;       // CpuKernelsInUse() while training
};

// Trains a fresh model on `train`, evaluating on `test` after each epoch, and writes it
// to `model_path` (a file Classifier::Load reads); with config.ema_decay > 0 the file holds
// the moving average of the weights instead of the last ones. Calls `on_epoch` after each epoch
// (may be empty). Deterministic for a given config and thread count on one machine;
// the same on every x86-64 machine with AVX2 and FMA when the process runs the pinned
// kernels (vision/reproducible.h: call PinCpuKernelsOrReexec first).
// Blocks for the whole training; sets this thread's LibTorch thread count.
// InvalidArgument for a bad config; Internal when LibTorch fails or the file cannot be
// written.
absl::StatusOr<TrainResult> Train(const TrainConfig& config, const Dataset& train,
                                  const Dataset& test, const std::string& model_path,
                                  const std::function<void(const EpochStats&)>& on_epoch);

}  // namespace unibus::vision

#endif  // UNIBUS_VISION_TRAINER_H_
