// Fashion-MNIST data: a reader for (gzip'd) IDX files and the class names.
#ifndef UNIBUS_VISION_IDX_H_
#define UNIBUS_VISION_IDX_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace unibus::vision {

inline constexpr int kImageRows = 28;
inline constexpr int kImageCols = 28;
inline constexpr std::size_t kImageBytes = kImageRows * kImageCols;
inline constexpr int kNumClasses = 10;

// Where Debian's dataset-fashion-mnist package puts the data.
inline constexpr char kDefaultFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

// The ten Fashion-MNIST classes, indexed by label.
inline constexpr std::array<std::string_view, kNumClasses> kClassNames = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// The name of class `index`, or "unknown" when it is not in [0, 10).
std::string_view ClassName(int index);

// An IDX3 file of unsigned bytes: `count` images of rows x cols, row-major, one after
// the other in `pixels` (count * rows * cols bytes).
struct IdxImages {
  std::size_t count = 0;
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<std::uint8_t> pixels;
};

// Reads an IDX3 unsigned-byte image file (magic 0x00000803), gzip'd or plain.
// NotFound when the file does not exist or cannot be opened; InvalidArgument when the
// header is not that of an IDX3 byte file or its dimensions are implausible; DataLoss
// when the file is truncated, has bytes after the data, or is a corrupt gzip stream.
// Every message names the file and what is wrong with it.
absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path);

// Reads an IDX1 unsigned-byte label file (magic 0x00000801); errors as ReadIdxImages.
absl::StatusOr<std::vector<std::uint8_t>> ReadIdxLabels(const std::string& path);

// Labelled 28x28 images, in file order.
struct Dataset {
  std::vector<std::uint8_t> images;  // size() * kImageBytes bytes
  std::vector<std::uint8_t> labels;  // one per image, each < kNumClasses

  std::size_t size() const { return labels.size(); }
  const std::uint8_t* image(std::size_t i) const { return images.data() + i * kImageBytes; }
};

enum class Split { kTrain, kTest };

// Reads `dir`/{train,t10k}-images-idx3-ubyte.gz and the matching labels file, and
// checks that they agree: 28x28 images, as many labels as images, labels < 10.
// Errors as ReadIdxImages; InvalidArgument when the two files disagree.
absl::StatusOr<Dataset> LoadFashionMnist(const std::string& dir, Split split);

}  // namespace unibus::vision

#endif  // UNIBUS_VISION_IDX_H_
