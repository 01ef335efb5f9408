#include "kafka/offset_tracker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace unibus::kafka_internal {
namespace {

TEST(OffsetTrackerTest, CommitsOnlyTheContiguousSettledPrefix) {
  OffsetTracker t(0);
  for (int o = 0; o < 10; ++o) ASSERT_TRUE(t.Deliver(o));
  EXPECT_EQ(t.committable(), 0);
  // Ack everything but 3, newest first.
  for (int o = 9; o >= 0; --o) {
    if (o != 3) t.Ack(o);
  }
  EXPECT_EQ(t.committable(), 3) << "an ack of a later offset must never commit past unacked 3";
  EXPECT_EQ(t.EncodeAcked(), "unibus1:1-6");
  t.Ack(3);
  EXPECT_EQ(t.committable(), 10);
  EXPECT_EQ(t.EncodeAcked(), "");
}

TEST(OffsetTrackerTest, GapsBetweenDeliveredOffsetsDoNotHoldTheCommit) {
  OffsetTracker t(5);
  ASSERT_TRUE(t.Deliver(7));  // 5 and 6 do not exist (compacted)
  ASSERT_TRUE(t.Deliver(9));
  EXPECT_EQ(t.committable(), 7);
  t.Ack(7);
  EXPECT_EQ(t.committable(), 9);
  t.Ack(9);
  EXPECT_EQ(t.committable(), 10);
}

TEST(OffsetTrackerTest, NoCommittedOffsetStartsAtFirstDelivery) {
  OffsetTracker t;
  EXPECT_EQ(t.committable(), -1);
  ASSERT_TRUE(t.Deliver(42));
  EXPECT_EQ(t.committable(), 42);
  t.Ack(42);
  EXPECT_EQ(t.committable(), 43);
}

TEST(OffsetTrackerTest, ReleasedMessagesAreRedeliveredAfterASeekOthersAreSkipped) {
  OffsetTracker t(0);
  for (int o = 0; o < 5; ++o) ASSERT_TRUE(t.Deliver(o));
  t.Ack(0);
  t.Ack(2);
  EXPECT_TRUE(t.Release(1));
  EXPECT_FALSE(t.Release(1)) << "already released";
  EXPECT_FALSE(t.Release(2)) << "acked";
  // The consumer seeks back to 1 and re-reads 1..5.
  EXPECT_TRUE(t.Deliver(1)) << "released: hand out again";
  EXPECT_FALSE(t.Deliver(2)) << "acked: skip";
  EXPECT_FALSE(t.Deliver(3)) << "still in flight: skip";
  EXPECT_FALSE(t.Deliver(4));
  EXPECT_TRUE(t.Deliver(5)) << "new";
  EXPECT_EQ(t.committable(), 1);
  EXPECT_EQ(t.in_flight(), 4u);
}

TEST(OffsetTrackerTest, ReleaseAllHandsOutInFlightAgainButNotAcked) {
  OffsetTracker t(0);
  for (int o = 0; o < 4; ++o) ASSERT_TRUE(t.Deliver(o));
  t.Ack(1);
  t.ReleaseAll();  // the partition was revoked and came back
  EXPECT_EQ(t.in_flight(), 0u);
  EXPECT_EQ(t.committable(), 0);
  EXPECT_TRUE(t.Deliver(0));
  EXPECT_FALSE(t.Deliver(1)) << "acked before the revoke: never again";
  EXPECT_TRUE(t.Deliver(2));
  EXPECT_TRUE(t.Deliver(3));
  EXPECT_TRUE(t.Deliver(4)) << "new";
  for (int o : {0, 2, 3, 4}) t.Ack(o);
  EXPECT_EQ(t.committable(), 5);
}

TEST(OffsetTrackerTest, AckedAboveTheCommitSurviveATakeOver) {
  OffsetTracker a(100);
  for (int o = 100; o < 110; ++o) ASSERT_TRUE(a.Deliver(o));
  for (int o : {101, 102, 103, 105, 109}) a.Ack(o);
  const std::string meta = a.EncodeAcked();
  EXPECT_EQ(meta, "unibus1:1-3,5,9");
  // Another consumer takes the partition over from the commit (100, meta).
  OffsetTracker b(a.committable(), OffsetTracker::DecodeAcked(meta, a.committable()));
  std::vector<int> handed;
  for (int o = 100; o < 112; ++o) {
    if (b.Deliver(o)) handed.push_back(o);
  }
  EXPECT_EQ(handed, (std::vector<int>{100, 104, 106, 107, 108, 110, 111}));
  for (int o : handed) b.Ack(o);
  EXPECT_EQ(b.committable(), 112);
}

TEST(OffsetTrackerTest, AckedRightAtTheCommitPointAdvanceIt) {
  OffsetTracker t(10, OffsetTracker::DecodeAcked("unibus1:1-2", 9));  // 10, 11 acked
  EXPECT_EQ(t.committable(), 12);
  EXPECT_FALSE(t.Deliver(10));
  EXPECT_FALSE(t.Deliver(11));
  EXPECT_TRUE(t.Deliver(12));
}

TEST(OffsetTrackerTest, ForeignOrMalformedMetadataIsIgnored) {
  EXPECT_TRUE(OffsetTracker::DecodeAcked("", 5).empty());
  EXPECT_TRUE(OffsetTracker::DecodeAcked("some other client", 5).empty());
  EXPECT_TRUE(OffsetTracker::DecodeAcked("unibus1:x", 5).empty());
  EXPECT_TRUE(OffsetTracker::DecodeAcked("unibus1:0", 5).empty());
  EXPECT_TRUE(OffsetTracker::DecodeAcked("unibus1:3-1", 5).empty());
  EXPECT_EQ(OffsetTracker::DecodeAcked("unibus1:2", 5), (std::set<std::int64_t>{7}));
}

TEST(OffsetTrackerTest, MetadataIsTruncatedNotOverlong) {
  OffsetTracker t(0);
  for (int o = 0; o < 3000; ++o) ASSERT_TRUE(t.Deliver(o));
  for (int o = 1; o < 3000; o += 2) t.Ack(o);  // every other: many ranges
  const std::string meta = t.EncodeAcked(200);
  EXPECT_LE(meta.size(), 200u);
  auto acked = OffsetTracker::DecodeAcked(meta, 0);
  EXPECT_FALSE(acked.empty());
  for (auto o : acked) EXPECT_EQ(o % 2, 1) << "only acked offsets may be skipped";
}

TEST(OffsetTrackerTest, RandomAckOrderNeverCommitsAnUnackedOffset) {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    OffsetTracker t(0);
    const int n = 200;
    std::vector<int> order(n);
    for (int o = 0; o < n; ++o) {
      ASSERT_TRUE(t.Deliver(o));
      order[o] = o;
    }
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<bool> acked(n, false);
    for (int o : order) {
      t.Ack(o);
      acked[o] = true;
      const auto c = t.committable();
      for (int i = 0; i < c; ++i) ASSERT_TRUE(acked[i]) << "committed past unacked " << i;
      ASSERT_TRUE(c == n || !acked[c]);
    }
    EXPECT_EQ(t.committable(), n);
  }
}

}  // namespace
}  // namespace unibus::kafka_internal
