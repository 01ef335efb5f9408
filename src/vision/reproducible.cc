#include "vision/reproducible.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"

namespace unibus::vision {

const std::vector<std::pair<std::string, std::string>>& PinnedCpuEnvironment() {
  static const auto* const kPinned = new std::vector<std::pair<std::string, std::string>>{
      {"ATEN_CPU_CAPABILITY", "avx2"},
      {"DNNL_MAX_CPU_ISA", "AVX2"},
      {"ONEDNN_MAX_CPU_ISA", "AVX2"},
      {"OPENBLAS_CORETYPE", "Haswell"},
  };
  return *kPinned;
}

bool CpuEnvironmentPinned() {
  for (const auto& [name, value] : PinnedCpuEnvironment()) {
    const char* now = std::getenv(name.c_str());
    if (now == nullptr || value != now) return false;
  }
  return true;
}

bool CpuSupportsPinnedKernels() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

absl::Status PinCpuKernelsOrReexec() {
  if (CpuEnvironmentPinned()) return absl::OkStatus();
  if (!CpuSupportsPinnedKernels()) {
    return absl::FailedPreconditionError(
        "this CPU lacks AVX2 or FMA, so training cannot run the kernels that make its "
        "result the same on every machine; the model will be reproducible on this machine "
        "only (pass --native-cpu to train anyway)");
  }
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (std::size_t begin = 0; begin < cmdline.size();) {
    std::size_t end = cmdline.find('\0', begin);
    if (end == std::string::npos) end = cmdline.size();
    args.emplace_back(cmdline, begin, end - begin);
    begin = end + 1;
  }
  if (args.empty()) return absl::InternalError("cannot read /proc/self/cmdline to re-execute");
  for (const auto& [name, value] : PinnedCpuEnvironment()) {
    setenv(name.c_str(), value.c_str(), /*overwrite=*/1);
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  execv("/proc/self/exe", argv.data());
  return absl::InternalError(absl::StrCat(
      "cannot re-execute /proc/self/exe with the pinned CPU kernels: ", std::strerror(errno)));
}

std::string CpuKernelsInUse() {
  // ATen does not export its choice; this is its rule (ATen/native/DispatchStub.cpp):
  // ATEN_CPU_CAPABILITY if the CPU has it, else the best the CPU has.
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  std::string aten = avx512 ? "avx512" : avx2 ? "avx2" : "default";
  if (const char* env = std::getenv("ATEN_CPU_CAPABILITY")) {
    const std::string want = env;
    if (want == "default" || (want == "avx2" && avx2) || (want == "avx512" && avx512)) aten = want;
  }
  // Both libraries come with LibTorch; looked up at run time as we do not link them.
  using CoreNameFn = char* (*)();
  std::string openblas = "?";
  if (auto fn = reinterpret_cast<CoreNameFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"))) {
    openblas = fn();
  }
  using IsaFn = int (*)();
  using IsaNameFn = const char* (*)(int);
  std::string onednn = "?";
  auto isa = reinterpret_cast<IsaFn>(dlsym(RTLD_DEFAULT, "dnnl_get_effective_cpu_isa"));
  auto isa_name = reinterpret_cast<IsaNameFn>(dlsym(RTLD_DEFAULT, "dnnl_cpu_isa2str"));
  if (isa != nullptr && isa_name != nullptr) onednn = isa_name(isa());
  return absl::StrCat("aten=", aten, " openblas=", openblas, " onednn=", onednn);
}

}  // namespace unibus::vision
