#include "kafka/assignment_ledger.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace unibus::kafka_internal {
namespace {

using Commits = std::vector<AssignmentLedger::Commit>;

// Delivers offsets [from, to) of `p`; returns their tokens.
std::vector<std::string> Deliver(AssignmentLedger& l, std::int32_t p, std::int64_t from,
                                 std::int64_t to) {
  std::vector<std::string> tokens;
  for (std::int64_t o = from; o < to; ++o) {
    auto t = l.Deliver(p, o);
    EXPECT_TRUE(t.has_value()) << "partition " << p << " offset " << o;
    if (t) tokens.push_back(*t);
  }
  return tokens;
}

// Assigns partitions 0 and 1 from offset 0 and delivers offsets [0, n0) and [0, n1) of
// them; returns their tokens.
std::pair<std::vector<std::string>, std::vector<std::string>> AssignTwoAndDeliver(
    AssignmentLedger& l, std::int64_t n0, std::int64_t n1) {
  l.Assign(0, 0, {});
  l.Assign(1, 0, {});
  auto t0 = Deliver(l, 0, 0, n0);
  return {std::move(t0), Deliver(l, 1, 0, n1)};
}

TEST(AssignmentLedger, StartsAfterTheGroupsCommitAndSkipsItsRecordedAcks) {
  AssignmentLedger l;
  EXPECT_EQ(l.Assign(0, -1, {}).start, -1) << "nothing known: the group's default";
  auto a = l.Assign(1, 10, {11, 12});
  EXPECT_EQ(a.start, 10);
  EXPECT_FALSE(a.kept_own_record);
  EXPECT_TRUE(l.Deliver(1, 10).has_value());
  EXPECT_FALSE(l.Deliver(1, 11).has_value()) << "acked by the previous owner";
  EXPECT_FALSE(l.Deliver(2, 0).has_value()) << "not assigned";
  EXPECT_EQ(l.partitions(), (std::vector<std::int32_t>{0, 1}));
}

TEST(AssignmentLedger, CommitsOnlyTheSettledPrefixWithTheAcksAboveIt) {
  AssignmentLedger l;
  l.Assign(0, 0, {});
  auto tokens = Deliver(l, 0, 0, 5);
  EXPECT_TRUE(l.TakeCommits(false).empty()) << "nothing acked yet";
  l.Ack({tokens[0], tokens[2], tokens[3]});
  Commits c = l.TakeCommits(false);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].partition, 0);
  EXPECT_EQ(c[0].offset, 1) << "offset 1 is unsettled";
  EXPECT_EQ(c[0].metadata, "unibus1:1-2");
  EXPECT_TRUE(l.TakeCommits(false).empty()) << "unchanged since the last commit";
  EXPECT_EQ(l.TakeCommits(true).size(), 1u) << "the final commit is sent regardless";
  l.CommitFailed(0);
  EXPECT_EQ(l.TakeCommits(false).size(), 1u) << "a failed commit is sent again";
}

TEST(AssignmentLedger, TokensOfAnEarlierAssignmentAreStale) {
  AssignmentLedger l;
  l.Assign(0, 0, {});
  auto old_tokens = Deliver(l, 0, 0, 3);
  auto revoke = l.Revoke(0, /*lost=*/false);
  ASSERT_TRUE(revoke.has_value());
  EXPECT_EQ(revoke->offset, 0);
  l.Confirmed(0);
  l.Assign(0, 0, {});
  l.Ack(old_tokens);  // late acks from before the revoke
  EXPECT_TRUE(l.TakeCommits(false).empty());
  EXPECT_TRUE(l.Deliver(0, 0).has_value()) << "the new assignment hands it out again";
  l.Ack({"garbage", ""});  // ignored
}

TEST(AssignmentLedger, APartitionBackBeforeItsCommitWasConfirmedKeepsItsOwnRecord) {
  AssignmentLedger l;
  l.Assign(0, 0, {});
  auto tokens = Deliver(l, 0, 0, 4);
  l.Ack({tokens[0], tokens[1]});
  ASSERT_TRUE(l.Revoke(0, false).has_value());  // its commit (offset 2) fails: no Confirmed
  auto a = l.Assign(0, 0, {});                  // the group still has 0
  EXPECT_TRUE(a.kept_own_record);
  EXPECT_EQ(a.start, 2);
  EXPECT_FALSE(l.Deliver(0, 1).has_value()) << "acked before the revoke: not again";
  EXPECT_TRUE(l.Deliver(0, 2).has_value()) << "in flight before the revoke: handed out again";
  Commits c = l.TakeCommits(false);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].offset, 2) << "its own position is committed under the new assignment";

  // Confirmed, or the group is further: the group's commit wins.
  l.Revoke(0, false);
  l.Confirmed(0);
  EXPECT_FALSE(l.Assign(0, 2, {}).kept_own_record);
  l.Revoke(0, false);
  EXPECT_FALSE(l.Assign(0, 9, {}).kept_own_record);
}

TEST(AssignmentLedger, ALostPartitionIsNotCommitted) {
  AssignmentLedger l;
  l.Assign(3, 5, {});
  auto tokens = Deliver(l, 3, 5, 7);
  l.Ack(tokens);
  EXPECT_FALSE(l.Revoke(3, /*lost=*/true).has_value());
  EXPECT_FALSE(l.Holds(3));
  EXPECT_FALSE(l.Revoke(3, false).has_value()) << "not held any more";
}

TEST(AssignmentLedger, ReleasedMessagesAreSoughtBackFromTheLowest) {
  AssignmentLedger l;
  auto [t0, t1] = AssignTwoAndDeliver(l, 5, 2);
  EXPECT_TRUE(l.TakeSeeks().empty());
  l.Release({t0[3], t0[1], t1[1]});
  auto seeks = l.TakeSeeks();
  ASSERT_EQ(seeks.size(), 2u);
  EXPECT_EQ(seeks[0].partition, 0);
  EXPECT_EQ(seeks[0].offset, 1);
  EXPECT_EQ(seeks[1].partition, 1);
  EXPECT_EQ(seeks[1].offset, 1);
  EXPECT_TRUE(l.TakeSeeks().empty());
  EXPECT_TRUE(l.Deliver(0, 1).has_value()) << "released: handed out again";
  EXPECT_FALSE(l.Deliver(0, 2).has_value()) << "still in flight";
}

// What a revoke waits for (Assignment::Revoke): messages handed out and not yet settled.
// One polled but never handed out (Unhand) is not waited for and stays uncommitted.
TEST(AssignmentLedger, CountsInFlightMessagesAndUnhandedOnesLeaveTheCount) {
  AssignmentLedger l;
  l.Assign(0, 0, {});
  auto tokens = Deliver(l, 0, 0, 4);
  EXPECT_EQ(l.InFlight(0), 4u);
  EXPECT_EQ(l.InFlight(1), 0u) << "not assigned";
  l.Ack({tokens[0], tokens[2]});
  EXPECT_EQ(l.InFlight(0), 2u);
  l.Unhand(0, 3);
  EXPECT_EQ(l.InFlight(0), 1u);
  EXPECT_TRUE(l.TakeSeeks().empty()) << "an unhanded message is dropped, not read again";
  l.Ack({tokens[1]});
  EXPECT_EQ(l.InFlight(0), 0u);
  auto c = l.Revoke(0, /*lost=*/false);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->offset, 3) << "the unhanded message is not committed";
}

// Messages the dispatcher gives back by token (a revoke's Withdrawer): out of the
// count, uncommitted, not read again; a stale token changes nothing.
TEST(AssignmentLedger, UnhandedTokensLeaveTheCountAndStaleOnesAreIgnored) {
  AssignmentLedger l;
  auto [t0, t1] = AssignTwoAndDeliver(l, 3, 2);
  EXPECT_EQ(AssignmentLedger::PartitionOf(t0[2]), 0);
  EXPECT_EQ(AssignmentLedger::PartitionOf(t1[0]), 1);
  EXPECT_FALSE(AssignmentLedger::PartitionOf("not a token").has_value());
  l.Unhand({t0[1], t0[2], "not a token"});
  EXPECT_EQ(l.InFlight(0), 1u);
  EXPECT_EQ(l.InFlight(1), 2u);
  EXPECT_TRUE(l.TakeSeeks().empty());
  l.Ack({t0[0]});
  auto c = l.Revoke(0, /*lost=*/false);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->offset, 1) << "the unhanded messages are not committed";
  l.Assign(0, 1, {});  // a new epoch: the old tokens are stale
  Deliver(l, 0, 1, 3);
  l.Unhand({t0[1]});
  EXPECT_EQ(l.InFlight(0), 2u);
}

}  // namespace
}  // namespace unibus::kafka_internal
