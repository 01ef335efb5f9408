#include "core/ack_batcher.h"

#include <gtest/gtest.h>

namespace unibus::core_internal {
namespace {

using Clock = AckBatcher::Clock;
using std::chrono::milliseconds;

Clock::time_point fake_now;
Clock::time_point FakeNow() { return fake_now; }

TEST(AckBatcherTest, ABatchIsDueAfterTheDelayOfItsFirstToken) {
  fake_now = Clock::time_point(milliseconds(1000));
  AckBatcher b(/*max_batch=*/100, milliseconds(5), &FakeNow);
  EXPECT_FALSE(b.Due(fake_now));
  EXPECT_EQ(b.DueAt(), Clock::time_point::max());
  EXPECT_TRUE(b.Add("a")) << "the first token starts a batch: wake the sender";
  fake_now += milliseconds(3);
  EXPECT_FALSE(b.Add("b"));
  EXPECT_EQ(b.DueAt(), Clock::time_point(milliseconds(1005))) << "counted from the first token";
  EXPECT_FALSE(b.Due(Clock::time_point(milliseconds(1004))));
  EXPECT_TRUE(b.Due(Clock::time_point(milliseconds(1005))));
  EXPECT_EQ(b.Take(), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(b.empty());
  EXPECT_FALSE(b.Due(Clock::time_point(milliseconds(2000))));
  EXPECT_TRUE(b.Add("c")) << "the next token starts the next batch";
  EXPECT_EQ(b.DueAt(), fake_now + milliseconds(5));
}

TEST(AckBatcherTest, AFullBatchIsDueAtOnce) {
  fake_now = Clock::time_point(milliseconds(0));
  AckBatcher b(/*max_batch=*/3, milliseconds(5), &FakeNow);
  EXPECT_TRUE(b.Add("1"));
  EXPECT_FALSE(b.Add("2"));
  EXPECT_FALSE(b.Due(fake_now));
  EXPECT_TRUE(b.Add("3")) << "the token that fills the batch wakes the sender";
  EXPECT_TRUE(b.Due(fake_now));
  EXPECT_LE(b.DueAt(), fake_now);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(b.Take().size(), 3u);
}

}  // namespace
}  // namespace unibus::core_internal
