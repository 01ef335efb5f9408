// The CLI's bridge to src/vision: the test images and the CNN behind the pipeline's
// Model interface.
#ifndef UNIBUS_CLI_VISION_GLUE_H_
#define UNIBUS_CLI_VISION_GLUE_H_

#include <string>

#include "absl/status/statusor.h"
#include "pipeline/stages.h"

namespace unibus::cli {

inline constexpr char kDefaultDataDir[] = "/usr/share/datasets/fashion-mnist";
inline constexpr char kDefaultModel[] = "models/fashion_cnn.pt";

// The 10,000 Fashion-MNIST test images (t10k) from `data_dir`, with labels.
absl::StatusOr<pipeline::ImageSet> LoadTestImages(const std::string& data_dir);

// A factory of CNN models loaded from `path`, each using one intra-op thread.
// The first load is checked here, so a missing or incompatible file is an error now.
absl::StatusOr<pipeline::ModelFactory> CnnModelFactory(const std::string& path);

}  // namespace unibus::cli

#endif  // UNIBUS_CLI_VISION_GLUE_H_
