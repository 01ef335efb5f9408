#include "vision/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>

namespace unibus::vision {

void SetCpuThreads(int threads) {
  if (threads < 1) threads = 1;
  // Classify calls this for every batch: skip the work when nothing changes.
  thread_local int current = 0;
  if (current == threads && at::get_num_threads() == threads) return;
  current = threads;
  at::set_num_threads(threads);
  // LibTorch's GEMMs go to OpenBLAS, whose own pool ignores at::set_num_threads.
  // Looked up at run time: LibTorch links it, we do not.
  using SetFn = void (*)(int);
  static const SetFn openblas_set =
      reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (openblas_set != nullptr) openblas_set(threads);
}

void KeepFreedMemoryForReuse() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

}  // namespace unibus::vision
