// LatencyTarget without threads: synthetic latencies in, the batch size and wait it
// chooses out.
#include "pipeline/latency_target.h"

#include <gtest/gtest.h>

namespace unibus::pipeline {
namespace {

LatencyTargetOptions Options() {
  LatencyTargetOptions o;
  o.p99_target = absl::Milliseconds(10);
  o.max_batch = 16;
  o.max_wait = absl::Milliseconds(2);
  o.window = 100;
  return o;
}

absl::Duration Ms(double ms) { return absl::Microseconds(ms * 1000); }

// One window of latencies: 98 at `typical_ms`, 2 at `tail_ms` (so the p99 is tail_ms),
// each with `service_ms` of it after a worker picked the image (default: all of it).
void FeedWindow(LatencyTarget& t, double typical_ms, double tail_ms, double service_ms = -1) {
  for (int i = 0; i < 98; ++i)
    t.Observe(Ms(typical_ms), Ms(service_ms < 0 ? typical_ms : service_ms));
  t.Observe(Ms(tail_ms), Ms(service_ms < 0 ? tail_ms : service_ms));
  t.Observe(Ms(tail_ms), Ms(service_ms < 0 ? tail_ms : service_ms));
}

TEST(LatencyTarget, StartsAtTheCeilings) {
  auto t = LatencyTarget::Create(Options());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->Current().max_batch, 16u);
  EXPECT_EQ((*t)->Current().max_wait, absl::Milliseconds(2));
  EXPECT_TRUE((*t)->History().empty());
}

TEST(LatencyTarget, ShrinksTheBatchWhenP99IsOverTheTarget) {
  auto t = *LatencyTarget::Create(Options());
  // 99 latencies: no decision before the window is full.
  for (int i = 0; i < 99; ++i) t->Observe(absl::Milliseconds(30), absl::Milliseconds(30));
  EXPECT_EQ(t->Current().max_batch, 16u);
  t->Observe(absl::Milliseconds(30), absl::Milliseconds(30));
  EXPECT_EQ(t->Current().max_batch, 8u);
  // 20 ms over the target: a 2 ms wait cannot be the cause, so it is kept.
  EXPECT_EQ(t->Current().max_wait, absl::Milliseconds(2));
  // The median is fine, the tail is not: still over, and each halving made the
  // batches faster (service p99 30 -> 20 -> 15 -> 11 -> 8 ms), so it goes on.
  FeedWindow(*t, 2, 20);
  EXPECT_EQ(t->Current().max_batch, 4u);
  FeedWindow(*t, 2, 15);
  FeedWindow(*t, 2, 11);
  EXPECT_EQ(t->Current().max_batch, 1u);
  FeedWindow(*t, 2, 8);  // under the target, and the last halving helped: kept
  EXPECT_EQ(t->Current().max_batch, 1u);
  FeedWindow(*t, 2, 30, 2);  // a queue at 1 ...
  FeedWindow(*t, 2, 25);     // ... grows it to 2; slow batches then keep it at the floor
  EXPECT_EQ(t->Current().max_batch, 2u);  // the floor (1 + 1) after the queue at 1
  ASSERT_EQ(t->History().size(), 7u);
  EXPECT_DOUBLE_EQ(t->History()[1].p99_ms, 20);
}

// On 2 busy cores a batch's time is mostly waiting for a core: halving the batch does
// not make it faster, only costs throughput. The controller goes back and stays.
TEST(LatencyTarget, UndoesAHalvingThatDidNotMakeBatchesFaster) {
  auto t = *LatencyTarget::Create(Options());
  FeedWindow(*t, 8, 14);  // over, no queue: 16 -> 8
  ASSERT_EQ(t->Current().max_batch, 8u);
  FeedWindow(*t, 8, 13);  // service p99 13 ms > 0.8 x 14: back to 16, the floor
  EXPECT_EQ(t->Current().max_batch, 16u);
  for (int i = 0; i < 5; ++i) FeedWindow(*t, 8, 14);
  EXPECT_EQ(t->Current().max_batch, 16u);
}

// At half the maximum rate on 2 busy cores the batches are slow because the cores are
// busy. Halving the wait on every window over the target drove it to 0.1 ms there, and
// the smaller batches made the tail longer. The wait is cut only when it could account
// for the excess.
TEST(LatencyTarget, KeepsAWaitThatCannotAccountForTheExcess) {
  auto t = *LatencyTarget::Create(Options());
  FeedWindow(*t, 8, 14);  // 4 ms over, no queue: 16 -> 8; a 2 ms wait cannot explain 4 ms
  EXPECT_EQ(t->Current().max_wait, absl::Milliseconds(2));
  FeedWindow(*t, 8, 13);  // the halving did not help: back to 16, the floor
  ASSERT_EQ(t->Current().max_batch, 16u);
  for (int i = 0; i < 10; ++i) FeedWindow(*t, 8, 14);
  EXPECT_EQ(t->Current().max_batch, 16u);
  EXPECT_EQ(t->Current().max_wait, absl::Milliseconds(2)) << "the wait decayed";
  FeedWindow(*t, 8, 11);  // 1 ms over, within the wait: halved
  EXPECT_EQ(t->Current().max_wait, absl::Milliseconds(1));
  FeedWindow(*t, 8, 11.5);  // 1.5 ms over, more than the 1 ms wait: kept
  EXPECT_EQ(t->Current().max_wait, absl::Milliseconds(1));
}

TEST(LatencyTarget, GrowsTheBatchWhenTheQueueMakesTheTail) {
  auto t = *LatencyTarget::Create(Options());
  FeedWindow(*t, 30, 30);  // slow batches: 16 -> 8 (the wait is kept: 20 ms over)
  FeedWindow(*t, 20, 20);  // faster, still over: 8 -> 4
  ASSERT_EQ(t->Current().max_batch, 4u);
  // Over the target, but each image spends 2 ms after it is picked: a queue. Bigger
  // batches drain it sooner, and a worker should not wait for more; the wait halves.
  FeedWindow(*t, 20, 40, /*service_ms=*/2);
  EXPECT_EQ(t->Current().max_batch, 8u);
  EXPECT_EQ(t->Current().max_wait, absl::Milliseconds(1));
  EXPECT_DOUBLE_EQ(t->History().back().service_p99_ms, 2);
  FeedWindow(*t, 20, 40, 2);
  FeedWindow(*t, 20, 40, 2);
  EXPECT_EQ(t->Current().max_batch, 16u);  // never above --max-batch
}

// A loaded stage: at a small batch it falls behind. The controller must not halve
// its way back down to that size (it did: at half the maximum rate, batch 16 -> ...
// -> 1 and a p99 of 250 ms).
TEST(LatencyTarget, DoesNotShrinkBackToABatchThatQueued) {
  auto t = *LatencyTarget::Create(Options());
  FeedWindow(*t, 30, 30);  // slow batches: 16 -> 8
  FeedWindow(*t, 20, 20);  // 8 -> 4
  ASSERT_EQ(t->Current().max_batch, 4u);
  FeedWindow(*t, 20, 200, /*service_ms=*/12);  // a queue right after 8 -> 4: back to 8
  EXPECT_EQ(t->Current().max_batch, 8u);
  FeedWindow(*t, 12, 14);  // slow again, no queue: stays at the floor 8
  EXPECT_EQ(t->Current().max_batch, 8u);
  FeedWindow(*t, 5, 8);         // between headroom and target: held
  FeedWindow(*t, 20, 200, 12);  // a queue at 8, not after a halving: 16, floor 9
  EXPECT_EQ(t->Current().max_batch, 16u);
  FeedWindow(*t, 12, 14);  // slow, no queue: 16 -> 9 (the floor), not 8
  EXPECT_EQ(t->Current().max_batch, 9u);
  FeedWindow(*t, 5, 8);  // faster (8 ms < 0.8 x 14): kept; between headroom and target
  EXPECT_EQ(t->Current().max_batch, 9u);
  // Calm windows lower the floor.
  for (int i = 0; i < 9; ++i) FeedWindow(*t, 5, 8);
  FeedWindow(*t, 12, 14);
  EXPECT_EQ(t->Current().max_batch, 8u);
}

TEST(LatencyTarget, GrowsTheBatchWithHeadroomUpToTheCeiling) {
  auto t = *LatencyTarget::Create(Options());
  FeedWindow(*t, 11, 11);  // 1 ms over, which the 2 ms wait can account for: 16 -> 8, 1 ms
  ASSERT_EQ(t->Current().max_batch, 8u);
  ASSERT_EQ(t->Current().max_wait, absl::Milliseconds(1));
  FeedWindow(*t, 1, 3);  // p99 3 ms < 0.7 x 10 ms: grow by one
  EXPECT_EQ(t->Current().max_batch, 9u);
  EXPECT_EQ(t->Current().max_wait, absl::Microseconds(1250));
  for (int i = 0; i < 20; ++i) FeedWindow(*t, 1, 3);
  EXPECT_EQ(t->Current().max_batch, 16u);  // never above --max-batch
  EXPECT_EQ(t->Current().max_wait, absl::Milliseconds(2));
}

TEST(LatencyTarget, KeepsTheSettingBetweenHeadroomAndTarget) {
  auto t = *LatencyTarget::Create(Options());
  FeedWindow(*t, 30, 30);
  FeedWindow(*t, 5, 8);  // 7 ms <= p99 8 ms <= 10 ms: hold
  EXPECT_EQ(t->Current().max_batch, 8u);
  EXPECT_NE(t->Summary().find("batch 16 -> 8"), std::string::npos) << t->Summary();
}

TEST(LatencyTarget, AWaitHalvedBelowTenMicrosecondsIsNone) {
  auto t = *LatencyTarget::Create(Options());
  // A queue every window halves the wait: 2 ms, 1, 0.5, ... 15.6 us, then none (not
  // 7.8 us, 3.9 us ... down to fractions of a nanosecond).
  for (int i = 0; i < 20; ++i) FeedWindow(*t, 2, 30, 2);
  EXPECT_EQ(t->Current().max_wait, absl::ZeroDuration());
  EXPECT_NE(t->Summary().find("wait 0 ms"), std::string::npos) << t->Summary();
}

TEST(LatencyTarget, BadOptionsAreClearErrors) {
  auto o = Options();
  o.p99_target = absl::ZeroDuration();
  auto t = LatencyTarget::Create(o);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("--p99-target-ms"), std::string::npos);
  o = Options();
  o.max_batch = 0;
  EXPECT_EQ(LatencyTarget::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = Options();
  o.window = 3;
  EXPECT_EQ(LatencyTarget::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace unibus::pipeline
