// The CNN behind the pipeline's Model interface, and the test images as the pipeline's
// ImageSet: what `unibus feed`, `classify` and `pipeline` use from src/vision. No
// LibTorch in this header.
#ifndef UNIBUS_VISION_PIPELINE_MODEL_H_
#define UNIBUS_VISION_PIPELINE_MODEL_H_

#include <string>

#include "absl/status/statusor.h"
#include "pipeline/model.h"

namespace unibus::vision {

// The committed model, relative to the source tree (or the working directory).
inline constexpr char kDefaultModelFile[] = "models/fashion_cnn.pt";

// The 10,000 Fashion-MNIST test images (t10k) from `data_dir` (the IDX .gz files), with
// their labels. NotFound / InvalidArgument as LoadFashionMnist (vision/idx.h).
absl::StatusOr<pipeline::ImageSet> LoadTestImages(const std::string& data_dir);

// A factory of CNN models loaded from `path`, each using one intra-op thread (it sets
// OPENBLAS_NUM_THREADS and OMP_NUM_THREADS to 1 unless already set). The first load
// happens here, so a missing or incompatible file is an error now (Classifier::Load's
// codes); the factory may be called from any thread.
absl::StatusOr<pipeline::ModelFactory> CnnModelFactory(const std::string& path);

}  // namespace unibus::vision

#endif  // UNIBUS_VISION_PIPELINE_MODEL_H_
