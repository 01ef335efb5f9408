#include "unibus/future.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace unibus {
namespace {

TEST(FutureTest, GetWaitsForTheValueSetOnAnotherThread) {
  Promise<std::string> p;
  Future<std::string> f = p.get_future();
  EXPECT_FALSE(f.is_ready());
  EXPECT_FALSE(f.wait_for(std::chrono::milliseconds(20)));
  std::thread setter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    p.set_value("done");
  });
  EXPECT_EQ(f.get(), "done");
  EXPECT_TRUE(f.is_ready());
  setter.join();
  p.set_value("again");  // ignored: a promise is kept once
  EXPECT_EQ(f.get(), "done");
}

TEST(FutureTest, ThenRunsOnceWhetherAddedBeforeOrAfterTheValue) {
  Promise<int> p;
  Future<int> f = p.get_future();
  int before = 0, after = 0;
  f.then([&](const int& v) { before += v; });
  EXPECT_EQ(before, 0);
  p.set_value(7);
  EXPECT_EQ(before, 7);
  f.then([&](const int& v) { after += v; });
  EXPECT_EQ(after, 7);
  EXPECT_EQ(MakeReadyFuture(3).get(), 3);
}

// Futures share wait slots by address: many waiters on many futures, set in
// another order, each get their own value and none is left waiting.
TEST(FutureTest, ManyWaitersSharingSlotsEachWakeWithTheirOwnValue) {
  constexpr int kFutures = 400;
  std::vector<Promise<int>> promises(kFutures);
  std::vector<Future<int>> futures;
  for (auto& p : promises) futures.push_back(p.get_future());
  std::atomic<int> right{0};
  std::vector<std::thread> waiters;
  for (int w = 0; w < 8; ++w) {
    waiters.emplace_back([&, w] {
      for (int i = w; i < kFutures; i += 8) {
        if (futures[i].get() == i) ++right;
      }
    });
  }
  for (int i = kFutures - 1; i >= 0; --i) promises[i].set_value(i);
  for (auto& t : waiters) t.join();
  EXPECT_EQ(right.load(), kFutures);
}

}  // namespace
}  // namespace unibus
