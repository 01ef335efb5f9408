// An exponential moving average of the CNN's weights while it trains (Polyak
// averaging, as torch.optim.swa_utils.AveragedModel with an EMA function). Internal to
// src/vision: includes LibTorch through vision/model.h.
#ifndef UNIBUS_VISION_WEIGHT_AVERAGE_H_
#define UNIBUS_VISION_WEIGHT_AVERAGE_H_

#include "vision/model.h"

namespace unibus::vision {

// Copies every parameter and buffer of `from` into `to` (same architecture). Does not
// touch LibTorch's random generator.
void CopyWeights(FashionCnn& from, FashionCnn& to);

// One step of the average, after an optimizer step of `model`: each parameter of
// `average` becomes decay * average + (1 - decay) * model's; the buffers (batch norm's
// running mean and variance and its batch count) are copied from `model`, as they are
// already averages. `decay` in [0, 1): 0 copies `model`. Element-wise, so the result
// does not depend on the thread count.
void UpdateWeightAverage(FashionCnn& model, FashionCnn& average, double decay);

}  // namespace unibus::vision

#endif  // UNIBUS_VISION_WEIGHT_AVERAGE_H_
