// Classifying Fashion-MNIST images with the trained CNN. No LibTorch types here.
#ifndef UNIBUS_VISION_CLASSIFIER_H_
#define UNIBUS_VISION_CLASSIFIER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vision/idx.h"

namespace unibus::vision {

// The model's answer for one image. (Not named Prediction: that is the pipeline's
// protobuf message, unibus::vision::Prediction in vision.pb.h.)
struct Classification {
  int class_index = 0;                             // argmax, in [0, kNumClasses)
  float confidence = 0;                            // probabilities[class_index]
  std::array<float, kNumClasses> probabilities{};  // softmax over the classes
};

// How the model runs at inference. Batch norm is folded into the convolutions in all
// but kModule; the layouts differ in how activations are laid out for oneDNN, which
// runs the convolutions. `unibus bench-model` measures each.
enum class InferenceLayout {
  kModule,        // the training module's forward, batch norm not folded (the reference)
  kFolded,        // folded, NCHW tensors
  kChannelsLast,  // folded, NHWC tensors and weights
  kMkldnn,        // folded, weights reordered once into oneDNN's blocked format and
                  // activations kept as oneDNN tensors until the fully connected layers
};

struct ClassifierOptions {
  int threads = 1;  // LibTorch intra-op threads of the thread calling Classify
  InferenceLayout layout = InferenceLayout::kMkldnn;
};

// Multiply-adds of the convolutions and linear layers for one image, counted as two
// FLOPs each (batch norm, ReLU, pooling and softmax not counted): 8,690,944.
std::int64_t FlopsPerImage();

// The best single-precision matrix-product rates, in GFLOP/s, of the two libraries the
// model's layouts run on, on the calling thread with `threads` threads:
// `repetitions` products after one warm-up, the fastest counted.
struct PeakGflops {
  // LibTorch's mm (its BLAS, OpenBLAS here): two size x size matrices.
  double blas = 0;
  // oneDNN (the mkldnn layout's library): a 1x1 convolution of size channels over
  // 32x32 positions into size channels, a (1024 x size) x (size x size) product. An
  // OpenBLAS that does not know the CPU runs an older kernel (e.g. AVX2 on an
  // AVX-512 core) while oneDNN uses the widest vectors, so either can be the faster.
  // 0 when LibTorch was built without oneDNN.
  double onednn = 0;
  // What "of peak" is measured against: the faster of the two.
  double best() const { return blas > onednn ? blas : onednn; }
};
// Internal if LibTorch fails; InvalidArgument for size, repetitions or threads < 1.
absl::StatusOr<PeakGflops> MeasurePeakGflops(int size, int repetitions, int threads);

// A loaded model. Move-only. Classify runs in the calling thread; give each worker
// thread its own Classifier (Load is cheap: ~1 MB read).
class Classifier {
 public:
  // Reads a model file written by `unibus train`. NotFound when `path` does not exist,
  // InvalidArgument when it is not a unibus model file, FailedPrecondition when it holds
  // another architecture; the message names the file and what to do.
  static absl::StatusOr<Classifier> Load(const std::string& path,
                                         const ClassifierOptions& options = {});

  Classifier(Classifier&&) noexcept;
  Classifier& operator=(Classifier&&) noexcept;
  ~Classifier();

  // Classifies `n` images of 28x28 grayscale bytes, row-major, back to back at
  // `images` (n * 784 bytes; only read during the call). Returns one Classification per
  // image, in order. Sets the calling thread's LibTorch threads to options.threads.
  // InvalidArgument when `images` is null and n > 0; Internal if LibTorch fails.
  // Not safe to call concurrently on one Classifier.
  absl::StatusOr<std::vector<Classification>> Classify(const std::uint8_t* images, std::size_t n);

  // Identifies the weights: "fashion-cnn-v2-" plus a hash of them.
  const std::string& version() const;

 private:
  struct Impl;
  explicit Classifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace unibus::vision

#endif  // UNIBUS_VISION_CLASSIFIER_H_
