#include "core/redelivery_timer.h"

#include <gtest/gtest.h>

#include <vector>

namespace unibus::core_internal {
namespace {

using Clock = RedeliveryTimer::Clock;
using std::chrono::milliseconds;

Clock::time_point At(int ms) { return Clock::time_point(milliseconds(ms)); }

TEST(RedeliveryTimerTest, HandsOutWhatIsDueEarliestFirst) {
  RedeliveryTimer t;
  EXPECT_EQ(t.NextDue(), Clock::time_point::max());
  t.Schedule(At(30), 3);
  t.Schedule(At(10), 1);
  t.Schedule(At(20), 2);
  t.Schedule(At(10), 4);  // same time as 1: after it
  EXPECT_EQ(t.NextDue(), At(10));
  std::vector<std::uint64_t> got;
  EXPECT_EQ(t.TakeDue(At(9), [&](std::uint64_t id) { got.push_back(id); }), 0u);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(t.TakeDue(At(20), [&](std::uint64_t id) { got.push_back(id); }), 3u);
  EXPECT_EQ(got, (std::vector<std::uint64_t>{1, 4, 2}));
  EXPECT_EQ(t.NextDue(), At(30));
  EXPECT_EQ(t.size(), 1u);
}

TEST(RedeliveryTimerTest, ClearForgetsEverything) {
  RedeliveryTimer t;
  t.Schedule(At(1), 1);
  t.Clear();
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.TakeDue(At(100), [](std::uint64_t) { FAIL() << "nothing is due"; }), 0u);
}

}  // namespace
}  // namespace unibus::core_internal
