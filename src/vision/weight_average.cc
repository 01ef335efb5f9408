#include "vision/weight_average.h"

#include <torch/utils.h>

namespace unibus::vision {

void CopyWeights(FashionCnn& from, FashionCnn& to) { UpdateWeightAverage(from, to, 0); }

void UpdateWeightAverage(FashionCnn& model, FashionCnn& average, double decay) {
  torch::NoGradGuard no_grad;
  auto params = model->parameters();
  auto averaged = average->parameters();
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (decay == 0) {
      averaged[i].copy_(params[i]);
    } else {
      averaged[i].mul_(decay).add_(params[i], 1 - decay);
    }
  }
  auto buffers = model->buffers();
  auto averaged_buffers = average->buffers();
  for (std::size_t i = 0; i < buffers.size(); ++i) averaged_buffers[i].copy_(buffers[i]);
}

}  // namespace unibus::vision
