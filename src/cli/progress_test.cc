#include "cli/progress.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "absl/time/clock.h"

namespace unibus::cli {
namespace {

std::string Read(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[256];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
  return s;
}

TEST(ProgressTest, LineShowsCountRateAndTimeLeft) {
  EXPECT_EQ(Progress::Line("images", 500, 1000, absl::Seconds(2), /*bar=*/false),
            "500/1000 images  250/s  eta 2s");
  EXPECT_EQ(Progress::Line("images", 300, 0, absl::Seconds(1), false), "300 images  300/s");
  EXPECT_EQ(Progress::Line("images", 1000, 1000, absl::Seconds(4), false),
            "1000/1000 images  250/s");
  const std::string bar = Progress::Line("x", 10, 30, absl::Seconds(1), /*bar=*/true);
  EXPECT_EQ(bar.substr(0, 32), "[##########....................]");
}

TEST(ProgressTest, LinesModePrintsOneLinePerInterval) {
  std::FILE* f = std::tmpfile();
  Progress p("images", 100, Progress::Mode::kLines, absl::Milliseconds(50), f);
  p.Update(1);  // before the first interval: nothing
  EXPECT_EQ(Read(f), "");
  absl::SleepFor(absl::Milliseconds(60));
  p.Update(10);
  p.Update(11);  // within the next interval: nothing more
  const std::string out = Read(f);
  EXPECT_EQ(out.rfind("10/100 images", 0), 0u) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  std::fclose(f);
}

TEST(ProgressTest, QuietPrintsNothing) {
  std::FILE* f = std::tmpfile();
  Progress p("images", 100, Progress::Mode::kQuiet, absl::ZeroDuration(), f);
  p.Update(50);
  p.Finish(100);
  EXPECT_EQ(Read(f), "");
  std::fclose(f);
}

TEST(ProgressTest, BarRedrawsInPlaceAndEndsItsLine) {
  std::FILE* f = std::tmpfile();
  Progress p("images", 10, Progress::Mode::kBar, absl::Seconds(5), f);
  p.Update(3);
  p.Finish(10);
  const std::string out = Read(f);
  EXPECT_EQ(out.front(), '\r') << out;
  EXPECT_NE(out.find("10/10 images"), std::string::npos) << out;
  EXPECT_EQ(out.back(), '\n') << out;
  std::fclose(f);
}

}  // namespace
}  // namespace unibus::cli
