// Making training give the same bytes on any x86-64 CPU with AVX2 and FMA.
//
// LibTorch picks its CPU kernels by what the processor offers, and kernels for wider
// vectors add floating-point numbers in another order: the same seed gave other weights
// on an AVX-512 machine than on an AVX2 one. Three libraries dispatch, each read from
// its own environment variable once, when it is first used (OpenBLAS: when it is
// loaded, before main):
//   ATEN_CPU_CAPABILITY=avx2          ATen's vectorised kernels (and the SLEEF maths they call)
//   DNNL_MAX_CPU_ISA=AVX2 (and ONEDNN_MAX_CPU_ISA)  oneDNN's convolutions
//   OPENBLAS_CORETYPE=Haswell         OpenBLAS's GEMM kernel and its blocking
// So the variables are set and the program re-executes itself before it trains.
#ifndef UNIBUS_VISION_REPRODUCIBLE_H_
#define UNIBUS_VISION_REPRODUCIBLE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace unibus::vision {

// The variables above with the values training pins them to, in a fixed order.
const std::vector<std::pair<std::string, std::string>>& PinnedCpuEnvironment();

// True when every variable of PinnedCpuEnvironment already has its pinned value.
bool CpuEnvironmentPinned();

// True when this CPU runs the pinned kernels (AVX2 and FMA).
bool CpuSupportsPinnedKernels();

// Makes this process run the pinned kernels: returns OkStatus at once when the
// environment is already pinned; otherwise sets the variables and re-executes
// /proc/self/exe with the same arguments (so it returns only on failure).
// Call it first thing in main or a subcommand, before LibTorch runs anything.
// FailedPrecondition when the CPU lacks AVX2 or FMA (nothing pinned: training there
// is deterministic on that machine only); Internal when exec fails.
absl::Status PinCpuKernelsOrReexec();

// The kernels LibTorch runs in this process, read back from the libraries, e.g.
// "aten=avx2 openblas=Haswell onednn=avx2". Loads oneDNN's answer lazily; a part
// reads "?" when that library does not say.
std::string CpuKernelsInUse();

}  // namespace unibus::vision

#endif  // UNIBUS_VISION_REPRODUCIBLE_H_
