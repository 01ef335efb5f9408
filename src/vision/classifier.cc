#include "vision/classifier.h"

#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "vision/model.h"
#include "vision/threads.h"

namespace unibus::vision {

struct Classifier::Impl {
  FashionCnn model;
  InferenceCnn inference;
  std::string version;
  ClassifierOptions options;
};

Classifier::Classifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Classifier::Classifier(Classifier&&) noexcept = default;
Classifier& Classifier::operator=(Classifier&&) noexcept = default;
Classifier::~Classifier() = default;

absl::StatusOr<Classifier> Classifier::Load(const std::string& path,
                                            const ClassifierOptions& options) {
  if (options.threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("classifier threads must be >= 1, got ", options.threads));
  }
  absl::StatusOr<LoadedModel> loaded = LoadModel(path);
  if (!loaded.ok()) return loaded.status();
  try {
    c10::InferenceMode inference;
    InferenceCnn prepared(loaded->model, options.layout);
    return Classifier(std::make_unique<Impl>(
        Impl{std::move(loaded->model), std::move(prepared), std::move(loaded->version), options}));
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    return absl::InternalError(absl::StrCat("preparing ", path, " for inference failed: ", what));
  }
}

const std::string& Classifier::version() const { return impl_->version; }

absl::StatusOr<std::vector<Classification>> Classifier::Classify(const std::uint8_t* images,
                                                                 std::size_t n) {
  std::vector<Classification> out;
  if (n == 0) return out;
  if (images == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("Classify: null images for n = ", n));
  }
  // Bounds the activations' memory for big calls; the model is as fast per image here.
  constexpr std::size_t kMaxBatch = 256;
  out.resize(n);
  try {
    SetCpuThreads(impl_->options.threads);
    c10::InferenceMode inference;
    for (std::size_t begin = 0; begin < n; begin += kMaxBatch) {
      const std::size_t b = std::min(kMaxBatch, n - begin);
      torch::Tensor probs =
          torch::softmax(impl_->inference.forward(ImagesToTensor(images + begin * kImageBytes, b)),
                         1)
              .contiguous();
      const float* p = probs.data_ptr<float>();
      for (std::size_t i = 0; i < b; ++i) {
        Classification& c = out[begin + i];
        std::copy_n(p + i * kNumClasses, kNumClasses, c.probabilities.begin());
        const auto best = std::max_element(c.probabilities.begin(), c.probabilities.end());
        c.class_index = static_cast<int>(best - c.probabilities.begin());
        c.confidence = *best;
      }
    }
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    return absl::InternalError(absl::StrCat("classifying ", n, " images failed: ", what));
  }
  return out;
}

absl::StatusOr<PeakGflops> MeasurePeakGflops(int size, int repetitions, int threads) {
  if (size < 1 || repetitions < 1 || threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("GEMM size, repetitions and threads must be >= 1, got ", size, ", ",
                     repetitions, ", ", threads));
  }
  // The fastest of `repetitions` runs of `f` (after one warm-up), as GFLOP/s of `flops`.
  auto best_rate = [repetitions](double flops, const auto& f) {
    double best = 0;
    for (int rep = -1; rep < repetitions; ++rep) {  // rep -1 warms up
      const auto start = std::chrono::steady_clock::now();
      f();
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (rep >= 0) best = std::max(best, flops / s);
    }
    return best / 1e9;
  };
  try {
    SetCpuThreads(threads);
    c10::InferenceMode inference;
    PeakGflops peak;
    const double n = size;
    torch::Tensor a = torch::rand({size, size});
    torch::Tensor b = torch::rand({size, size});
    torch::Tensor c = torch::empty({size, size});
    peak.blas = best_rate(2.0 * n * n * n, [&] { torch::mm_out(c, a, b); });
    if (!at::hasMKLDNN()) return peak;  // a LibTorch without oneDNN: BLAS only
    // (Each call allocates its output, where mm_out writes into `c`: if anything, this
    // reads oneDNN's peak a little low.)
    constexpr int kSide = 32;  // positions: the product's rows
    torch::Tensor x = torch::rand({1, size, kSide, kSide}).to_mkldnn();
    torch::Tensor w = at::mkldnn_reorder_conv2d_weight(torch::rand({size, size, 1, 1}).to_mkldnn(),
                                                       {0, 0}, {1, 1}, {1, 1}, 1);
    peak.onednn = best_rate(2.0 * kSide * kSide * n * n, [&] {
      (void)at::mkldnn_convolution(x, w, c10::nullopt, {0, 0}, {1, 1}, {1, 1}, 1);
    });
    return peak;
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    return absl::InternalError(absl::StrCat("matrix product failed: ", what));
  }
}

}  // namespace unibus::vision
