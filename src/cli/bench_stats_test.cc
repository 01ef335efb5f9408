#include "cli/bench_stats.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

namespace unibus::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(BenchStatsTest, SpreadIsMaxMinusMinOverTheMedian) {
  EXPECT_DOUBLE_EQ(Spread({100, 110, 90}), 0.2);
  EXPECT_DOUBLE_EQ(Spread({5, 5, 5}), 0);
  EXPECT_EQ(Spread({}), 0);
  EXPECT_EQ(Spread({0, 0}), 0);  // no median to divide by
}

TEST(BenchStatsTest, RatioOfMediansUnlessTheBaseIsNoisy) {
  EXPECT_EQ(RatioOrNoisy({200, 210, 190}, {100, 105, 95}, "baseline"), "2.00x");
  // The base scatters 60 %: no ratio, and the line says why.
  EXPECT_EQ(RatioOrNoisy({200, 210, 190}, {100, 70, 130}, "ceiling"),
            "noisy (ceiling rounds spread 60 % > 25 %)");
  // Our own side scattering does not hide the ratio.
  EXPECT_EQ(RatioOrNoisy({100, 300, 200}, {100, 100, 100}, "baseline"), "2.00x");
}

TEST(BenchStatsTest, LoadLineWarnsUnlessQuiet) {
  EXPECT_EQ(LoadLine(0.25, 0.5), "  load average before 0.25, after 0.50\n");
  EXPECT_THAT(LoadLine(0.25, 1.0), HasSubstr("(not quiet: do not quote these figures"));
  EXPECT_THAT(LoadLine(3, 0.5), HasSubstr("not quiet"));
  EXPECT_THAT(LoadLine(0.99, 0.5), Not(HasSubstr("not quiet")));
}

TEST(BenchStatsTest, AllocatorLineNamesTheLoadedAllocator) {
  EXPECT_EQ(AllocatorLine("libjemalloc.so.2"), "  allocator: libjemalloc.so.2 (both sides)\n");
  EXPECT_THAT(AllocatorLine(""), HasSubstr("the C library's malloc"));
}

TEST(BenchStatsTest, NoAllocatorIsReportedWhereNoneIsLoaded) {
  // ctest runs this without LD_PRELOAD and the test links no malloc replacement.
  if (const char* preload = std::getenv("LD_PRELOAD"); preload != nullptr && *preload != '\0') {
    EXPECT_NE(LoadedAllocator(), "") << preload;
  } else {
    EXPECT_EQ(LoadedAllocator(), "");
  }
}

TEST(BenchStatsTest, LoadAverageReadsProcLoadavg) {
  // On Linux /proc/loadavg exists; the figure is a load, never negative.
  EXPECT_GE(LoadAverage(), 0);
}

}  // namespace
}  // namespace unibus::cli
