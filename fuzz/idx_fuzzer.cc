// ReadIdxImages / ReadIdxLabels on arbitrary file contents (unibus feed/train --data DIR).
// The bytes go into a memfd, read through /proc/self/fd/N: no disk, a real path.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "vision/idx.h"

namespace {

const std::string& Path() {
  static const std::string path = [] {
    const int fd = memfd_create("idx_fuzz", 0);
    if (fd < 0) __builtin_trap();
    return "/proc/self/fd/" + std::to_string(fd);
  }();
  return path;
}

int Fd() { return std::stoi(Path().substr(sizeof("/proc/self/fd/") - 1)); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fd = Fd();
  if (ftruncate(fd, 0) != 0) __builtin_trap();
  if (size > 0 && pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) __builtin_trap();
  auto images = unibus::vision::ReadIdxImages(Path());
  if (images.ok() && images->pixels.size() != images->count * images->rows * images->cols) {
    __builtin_trap();  // the header and the data disagree
  }
  auto labels = unibus::vision::ReadIdxLabels(Path());
  (void)labels;
  return 0;
}
