// What the image pipeline classifies with, and what it feeds: the model interface the
// classify stage calls and the images the feed publishes. No LibTorch and no broker
// here: src/vision adapts its CNN to Model (vision/pipeline_model.h), tests use fakes.
#ifndef UNIBUS_PIPELINE_MODEL_H_
#define UNIBUS_PIPELINE_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace unibus::pipeline {

inline constexpr int kImageSide = 28;
inline constexpr int kImageBytes = kImageSide * kImageSide;

// Images to feed: n images of 28x28 bytes, row-major, and their labels (-1 unknown).
struct ImageSet {
  std::vector<std::uint8_t> pixels;
  std::vector<int> labels;
  std::size_t size() const { return labels.size(); }
};

struct ModelOutput {
  int class_index = 0;
  float confidence = 0;
};

// A classifier the worker calls with a batch. One instance per worker thread; an
// instance need not be thread-safe.
class Model {
 public:
  virtual ~Model() = default;
  // `n` images of 28x28 bytes, contiguous. Returns n outputs, or the model's error.
  virtual absl::StatusOr<std::vector<ModelOutput>> Classify(const std::uint8_t* images,
                                                            std::size_t n) = 0;
  virtual std::string version() const = 0;
  virtual std::string class_name(int index) const = 0;
};

// Makes one Model per call (each worker calls it once). Called from several threads.
using ModelFactory = std::function<absl::StatusOr<std::unique_ptr<Model>>()>;

}  // namespace unibus::pipeline

#endif  // UNIBUS_PIPELINE_MODEL_H_
