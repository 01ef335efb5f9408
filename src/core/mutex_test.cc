#include "core/mutex.h"

#include <gtest/gtest.h>

namespace unibus::core_internal {
namespace {

TEST(CondVarTest, TimedWaitsSayWhenTheyTimedOut) {
  Mutex mu;
  CondVar cv;
  MutexLock lock(&mu);
  const absl::Time start = absl::Now();
  EXPECT_TRUE(cv.WaitWithTimeout(&mu, absl::Milliseconds(5)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(5));
  EXPECT_TRUE(cv.WaitWithDeadline(&mu, absl::Now() + absl::Milliseconds(1)));
  EXPECT_TRUE(cv.WaitWithTimeout(&mu, -absl::Seconds(1))) << "a past deadline returns at once";
  cv.Signal();  // without waiters: nothing happens
}

TEST(MutexTest, LocksAndUnlocks) {
  Mutex mu;
  mu.Lock();
  mu.Unlock();
  { MutexLock lock(&mu); }
  MutexLock again(&mu);
}

}  // namespace
}  // namespace unibus::core_internal
