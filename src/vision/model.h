// The Fashion-MNIST CNN and its file format. Internal to src/vision: this header
// includes LibTorch, so only src/vision/*.cc may include it.
#ifndef UNIBUS_VISION_MODEL_H_
#define UNIBUS_VISION_MODEL_H_

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vision/classifier.h"

namespace unibus::vision {

// Bumped whenever the layers change; a model file records it and Load refuses others.
inline constexpr char kArchitecture[] =
    "fashion-cnn-v2: 3x(conv3x3 bn relu maxpool, the last in ceil mode) 24-48-96, dropout, "
    "fc 1536-128-10";

// Three conv blocks (3x3 conv without bias, batch norm, ReLU, 2x2 max pool:
// 28 -> 14 -> 7 -> 4, the last pool in ceil mode so no row is dropped), then dropout, a 128-unit
// hidden layer and 10 logits. Sized for >= 2,500 images/s on one core at batch 16.
class FashionCnnImpl : public torch::nn::Module {
 public:
  FashionCnnImpl();

  // `x`: [N, 1, 28, 28] floats from ImagesToTensor. Returns [N, 10] logits.
  torch::Tensor forward(torch::Tensor x);

 private:
  friend class InferenceCnn;
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(FashionCnn);

// The model prepared for inference (eval mode, no autograd): each batch norm is folded
// into the convolution before it (w * gamma / sqrt(var + eps), a bias of
// beta - mean * gamma / sqrt(var + eps)). Answers match FashionCnn::forward within
// float rounding. Keeps `model` alive for kModule only.
class InferenceCnn {
 public:
  InferenceCnn(FashionCnn& model, InferenceLayout layout);

  // `x`: [N, 1, 28, 28] floats from ImagesToTensor. Returns [N, 10] logits. Call under
  // c10::InferenceMode or torch::NoGradGuard.
  torch::Tensor forward(const torch::Tensor& x);

 private:
  struct Conv {
    torch::Tensor weight, bias;
  };
  InferenceLayout layout_;
  FashionCnn module_{nullptr};
  Conv conv_[3];
  torch::Tensor fc1_weight_, fc1_bias_, fc2_weight_, fc2_bias_;
};

// `n` images of 28x28 bytes -> [n, 1, 28, 28] floats, normalised with the training
// set's mean and standard deviation. Copies; `images` may be freed afterwards.
// If `flip` is non-null, image i is mirrored left-right when flip[i] is non-zero.
torch::Tensor ImagesToTensor(const std::uint8_t* images, std::size_t n,
                             const std::uint8_t* flip = nullptr);

std::int64_t ParameterCount(FashionCnn& model);

// "fashion-cnn-v2-" plus 12 hex digits of a hash of every parameter and buffer: the
// same weights always give the same version, retrained weights a new one.
std::string ModelVersion(FashionCnn& model);

// Writes `model` with its architecture and version to `path` (via a temporary file
// renamed into place). Internal on I/O failure.
absl::Status SaveModel(FashionCnn& model, const std::string& path);

struct LoadedModel {
  FashionCnn model;
  std::string version;
};

// Reads a file written by SaveModel; the model is in eval mode. NotFound when `path`
// does not exist; InvalidArgument when it is not a unibus model file; FailedPrecondition
// when it holds another architecture or tensors of the wrong shapes.
absl::StatusOr<LoadedModel> LoadModel(const std::string& path);

}  // namespace unibus::vision

#endif  // UNIBUS_VISION_MODEL_H_
