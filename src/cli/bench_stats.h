// What the CLI's benches (bench, bench-pipeline) share to judge their own figures:
// the machine's load, how far a side's rounds scatter, and the lines that say when
// a figure should not be quoted.
#ifndef UNIBUS_CLI_BENCH_STATS_H_
#define UNIBUS_CLI_BENCH_STATS_H_

#include <string>
#include <vector>

namespace unibus::cli {

// The 1-minute load average from /proc/loadavg, or -1 where it cannot be read.
double LoadAverage();

// How far a side's rounds scatter: (max - min) / median; 0 when empty or the
// median is not positive.
double Spread(const std::vector<double>& rounds);

// Rounds that scatter more than this (25 %) were disturbed by other load: a ratio
// against them says more about the machine than about what is measured.
inline constexpr double kNoisySpread = 0.25;

// "1.23x", the ratio of the medians `ours` / `base`, or, when `base`'s rounds are
// noisy, "noisy (<base_what> rounds spread 40 % > 25 %)".
std::string RatioOrNoisy(const std::vector<double>& ours, const std::vector<double>& base,
                         const std::string& base_what);

// "  load average before 0.42, after 0.61\n", plus " (not quiet: do not quote these
// figures; ...)" before the newline when either is 1 or more.
std::string LoadLine(double before, double after);

// The file name of a malloc replacement loaded in this process (jemalloc, tcmalloc,
// mimalloc: linked or through LD_PRELOAD), or "" when malloc is the C library's.
// Read from the loaded objects (dl_iterate_phdr), so an LD_PRELOAD the loader could
// not open is not reported.
std::string LoadedAllocator();

// "  allocator: <loaded> (both sides)\n", or the C library's malloc when `loaded` is "".
// Unibus and its baseline share the process's allocator, and it moves their ratio:
// with librdkafka 2.12 on the mock cluster (2026-12-03, AMD EPYC, 100-byte messages)
// a preloaded jemalloc or tcmalloc sped unibus's publish up 1.55x and the raw
// baseline's 1.12x (glibc's arena lock, taken by a publishing thread's malloc and by
// the delivery thread's free of what it allocated, is the contended one), and the raw
// consumer's 1.85x against unibus's 1.27x (README, Performance).
std::string AllocatorLine(const std::string& loaded);

}  // namespace unibus::cli

#endif  // UNIBUS_CLI_BENCH_STATS_H_
