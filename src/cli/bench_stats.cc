#include "cli/bench_stats.h"

#include <link.h>

#include <algorithm>
#include <fstream>
#include <string_view>

#include "absl/strings/str_format.h"
#include "bench/baselines.h"

namespace unibus::cli {

double LoadAverage() {
  std::ifstream f("/proc/loadavg");
  double load = -1;
  if (!(f >> load)) return -1;
  return load;
}

std::string LoadedAllocator() {
  std::string found;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        const std::string_view path = info->dlpi_name == nullptr ? "" : info->dlpi_name;
        const std::string_view name = path.substr(path.rfind('/') + 1);
        for (const char* allocator : {"jemalloc", "tcmalloc", "mimalloc"}) {
          if (name.find(allocator) != std::string_view::npos) {
            *static_cast<std::string*>(data) = std::string(name);
            return 1;  // stop
          }
        }
        return 0;
      },
      &found);
  return found;
}

std::string AllocatorLine(const std::string& loaded) {
  if (!loaded.empty()) return absl::StrFormat("  allocator: %s (both sides)\n", loaded);
  return "  allocator: the C library's malloc (both sides; LD_PRELOAD=libjemalloc.so.2 or "
         "libtcmalloc_minimal.so.4 to compare: the ratio depends on it)\n";
}

double Spread(const std::vector<double>& rounds) {
  const double median = bench::Median(rounds);
  if (rounds.empty() || median <= 0) return 0;
  return (*std::max_element(rounds.begin(), rounds.end()) - bench::Min(rounds)) / median;
}

std::string RatioOrNoisy(const std::vector<double>& ours, const std::vector<double>& base,
                         const std::string& base_what) {
  if (Spread(base) > kNoisySpread) {
    return absl::StrFormat("noisy (%s rounds spread %.0f %% > %.0f %%)", base_what,
                           100 * Spread(base), 100 * kNoisySpread);
  }
  return absl::StrFormat("%.2fx", bench::Median(ours) / bench::Median(base));
}

std::string LoadLine(double before, double after) {
  return absl::StrFormat(
      "  load average before %.2f, after %.2f%s\n", before, after,
      std::max(before, after) >= 1
          ? " (not quiet: do not quote these figures; a quiet machine has load < 1)"
          : "");
}

}  // namespace unibus::cli
