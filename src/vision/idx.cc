#include "vision/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace unibus::vision {
namespace {

constexpr std::uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr std::uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension
// Far above Fashion-MNIST's 47 MB. A header is checked against it (and a plain file
// against its real length) before anything is read; data is read incrementally, so
// memory follows the bytes really in the file, never the header's claim.
constexpr std::uint64_t kMaxDataBytes = std::uint64_t{1} << 30;

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

// An open IDX file, gzip'd or plain (zlib reads plain files transparently).
class IdxFile {
 public:
  static absl::StatusOr<IdxFile> Open(const std::string& path) {
    errno = 0;
    GzFile f(gzopen(path.c_str(), "rb"));
    if (f == nullptr) {
      const int err = errno;
      std::string why = err != 0 ? std::strerror(err) : "cannot open";
      if (err == ENOENT) {
        return absl::NotFoundError(
            absl::StrCat(path, ": ", why, "; install dataset-fashion-mnist or pass --data DIR"));
      }
      return absl::NotFoundError(absl::StrCat(path, ": ", why));
    }
    return IdxFile(path, std::move(f));
  }

  // Reads up to `n` bytes, fewer only at the end of the file; `got` says how many.
  absl::Status ReadSome(void* out, std::size_t n, std::size_t* got) {
    auto* dst = static_cast<std::uint8_t*>(out);
    *got = 0;
    while (*got < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - *got, 1u << 24));
      const int r = gzread(file_.get(), dst + *got, chunk);
      if (r < 0) return Corrupt();
      if (r == 0) break;
      *got += static_cast<std::size_t>(r);
    }
    return absl::OkStatus();
  }

  // Reads exactly `n` bytes; `what` names them in the error.
  absl::Status Read(void* out, std::size_t n, absl::string_view what) {
    std::size_t got = 0;
    if (absl::Status s = ReadSome(out, n, &got); !s.ok()) return s;
    if (got < n) {
      return absl::DataLossError(absl::StrCat(path_, ": truncated: ", what, " needs ", n,
                                              " bytes but the file ends after ", got));
    }
    return absl::OkStatus();
  }

  // Reads exactly `n` data bytes into `out`, growing it only as bytes really arrive
  // (a header may lie: a 30-byte file announcing 1 GB must not cost 1 GB). For a
  // plain file the length is checked against the file's size before any allocation.
  absl::Status ReadData(std::uint64_t n, std::vector<std::uint8_t>* out, absl::string_view what) {
    if (gzdirect(file_.get()) == 1) {
      std::error_code ec;
      const std::uint64_t size = std::filesystem::file_size(path_, ec);
      const std::int64_t at = gztell(file_.get());
      if (!ec && at >= 0 && size >= static_cast<std::uint64_t>(at)) {
        const std::uint64_t left = size - static_cast<std::uint64_t>(at);
        if (left < n) {
          return absl::DataLossError(absl::StrCat(path_, ": truncated: ", what, " needs ", n,
                                                  " bytes but the file ends after ", left));
        }
        if (left > n) {
          return absl::DataLossError(
              absl::StrCat(path_, ": has unexpected bytes after the data its header announces"));
        }
      }
    }
    out->clear();
    constexpr std::uint64_t kFirstChunk = 64 << 10;
    while (out->size() < n) {
      const std::size_t done = out->size();
      const std::size_t next =
          static_cast<std::size_t>(std::min<std::uint64_t>(n, std::max(kFirstChunk, 2 * done)));
      out->resize(next);
      std::size_t got = 0;
      absl::Status s = ReadSome(out->data() + done, next - done, &got);
      if (!s.ok()) return s;
      if (got < next - done) {
        return absl::DataLossError(absl::StrCat(path_, ": truncated: ", what, " needs ", n,
                                                " bytes but the file ends after ", done + got));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::uint32_t> ReadBigEndian32(absl::string_view what) {
    std::uint8_t b[4];
    if (absl::Status s = Read(b, sizeof b, what); !s.ok()) return s;
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
           std::uint32_t{b[3]};
  }

  absl::Status ExpectMagic(std::uint32_t want, absl::string_view kind) {
    absl::StatusOr<std::uint32_t> magic = ReadBigEndian32("the magic number");
    if (!magic.ok()) return magic.status();
    if (*magic != want) {
      return absl::InvalidArgumentError(absl::StrCat(
          path_, ": not an IDX ", kind, " file: magic number 0x",
          absl::Hex(*magic, absl::kZeroPad8), ", expected 0x", absl::Hex(want, absl::kZeroPad8)));
    }
    return absl::OkStatus();
  }

  // The data must end exactly where the header says.
  absl::Status ExpectEnd() {
    std::uint8_t extra[256];
    const int got = gzread(file_.get(), extra, sizeof extra);
    if (got < 0) return Corrupt();
    if (got > 0) {
      return absl::DataLossError(
          absl::StrCat(path_, ": has unexpected bytes after the data its header announces"));
    }
    return absl::OkStatus();
  }

  const std::string& path() const { return path_; }

 private:
  IdxFile(std::string path, GzFile file) : path_(std::move(path)), file_(std::move(file)) {}

  absl::Status Corrupt() {
    int code = 0;
    const char* msg = gzerror(file_.get(), &code);
    return absl::DataLossError(
        absl::StrCat(path_, ": corrupt gzip data (", msg != nullptr ? msg : "unknown", ")"));
  }

  std::string path_;
  GzFile file_;
};

}  // namespace

std::string_view ClassName(int index) {
  if (index < 0 || index >= kNumClasses) return "unknown";
  return kClassNames[static_cast<std::size_t>(index)];
}

absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path) {
  absl::StatusOr<IdxFile> file = IdxFile::Open(path);
  if (!file.ok()) return file.status();
  if (absl::Status s = file->ExpectMagic(kImagesMagic, "image (idx3-ubyte)"); !s.ok()) return s;
  std::uint32_t dims[3];
  const char* names[3] = {"the image count", "the row count", "the column count"};
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::uint32_t> d = file->ReadBigEndian32(names[i]);
    if (!d.ok()) return d.status();
    dims[i] = *d;
  }
  if (dims[1] == 0 || dims[2] == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": images of ", dims[1], "x", dims[2], " pixels"));
  }
  // Each dimension is below 2^32, so rows * cols fits in 64 bits; the product with the
  // count may not, hence the division.
  const std::uint64_t image_bytes = std::uint64_t{dims[1]} * dims[2];
  if (image_bytes > kMaxDataBytes || (dims[0] != 0 && kMaxDataBytes / dims[0] < image_bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": header announces ", dims[0], " images of ", dims[1], "x", dims[2],
        " pixels, more than the ", kMaxDataBytes, " bytes a data file may hold: too many"));
  }
  const std::uint64_t bytes = image_bytes * dims[0];
  IdxImages out;
  out.count = dims[0];
  out.rows = dims[1];
  out.cols = dims[2];
  const std::string what = absl::StrCat(out.count, " images of ", out.rows, "x", out.cols);
  if (absl::Status s = file->ReadData(bytes, &out.pixels, what); !s.ok()) return s;
  if (absl::Status s = file->ExpectEnd(); !s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<std::uint8_t>> ReadIdxLabels(const std::string& path) {
  absl::StatusOr<IdxFile> file = IdxFile::Open(path);
  if (!file.ok()) return file.status();
  if (absl::Status s = file->ExpectMagic(kLabelsMagic, "label (idx1-ubyte)"); !s.ok()) return s;
  absl::StatusOr<std::uint32_t> count = file->ReadBigEndian32("the label count");
  if (!count.ok()) return count.status();
  if (*count > kMaxDataBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": header announces ", *count, " labels, too many"));
  }
  std::vector<std::uint8_t> labels;
  const std::string what = absl::StrCat(*count, " labels");
  if (absl::Status s = file->ReadData(*count, &labels, what); !s.ok()) return s;
  if (absl::Status s = file->ExpectEnd(); !s.ok()) return s;
  return labels;
}

absl::StatusOr<Dataset> LoadFashionMnist(const std::string& dir, Split split) {
  const std::string prefix = absl::StrCat(dir, "/", split == Split::kTrain ? "train" : "t10k");
  const std::string images_path = prefix + "-images-idx3-ubyte.gz";
  const std::string labels_path = prefix + "-labels-idx1-ubyte.gz";
  absl::StatusOr<IdxImages> images = ReadIdxImages(images_path);
  if (!images.ok()) return images.status();
  if (images->rows != kImageRows || images->cols != kImageCols) {
    return absl::InvalidArgumentError(absl::StrCat(images_path, ": images are ", images->rows, "x",
                                                   images->cols, ", expected 28x28"));
  }
  absl::StatusOr<std::vector<std::uint8_t>> labels = ReadIdxLabels(labels_path);
  if (!labels.ok()) return labels.status();
  if (labels->size() != images->count) {
    return absl::InvalidArgumentError(absl::StrCat(labels_path, ": has ", labels->size(),
                                                   " labels but ", images_path, " has ",
                                                   images->count, " images"));
  }
  for (std::size_t i = 0; i < labels->size(); ++i) {
    if ((*labels)[i] >= kNumClasses) {
      return absl::InvalidArgumentError(absl::StrCat(labels_path, ": label ", int{(*labels)[i]},
                                                     " at index ", i, " is not in [0, 10)"));
    }
  }
  Dataset out;
  out.images = std::move(images->pixels);
  out.labels = std::move(*labels);
  return out;
}

}  // namespace unibus::vision
