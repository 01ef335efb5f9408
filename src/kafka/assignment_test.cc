#include "kafka/assignment.h"

#include <gtest/gtest.h>

#include <future>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace unibus::kafka_internal {
namespace {

using core_internal::Delivery;

// Polled messages at `offsets` of partition `p` (1 byte each), as the source converts them.
void Polled(std::int32_t p, const std::vector<std::int64_t>& offsets, std::vector<Delivery>* batch,
            std::vector<Assignment::Position>* positions) {
  for (std::int64_t o : offsets) {
    batch->emplace_back().message.data = absl::StrCat(p, "/", o);
    positions->push_back({p, o, 1});
  }
}

// Admits offsets [0, n) of partition `p`, all handed out; returns their deliveries.
std::vector<Delivery> HandOut(Assignment& a, std::int32_t p, std::int64_t n) {
  std::vector<Delivery> batch;
  std::vector<Assignment::Position> positions;
  std::vector<std::int64_t> offsets;
  for (std::int64_t o = 0; o < n; ++o) offsets.push_back(o);
  Polled(p, offsets, &batch, &positions);
  a.Admit(batch, 0, positions, 1 << 20, /*keep=*/true);
  EXPECT_EQ(batch.size(), static_cast<std::size_t>(n));
  return batch;
}

TEST(Assignment, HandsOutWithinMaxBytesAndStashesTheRestInOrder) {
  Assignment a;
  a.Assign({{.partition = 0, .offset = 0}}, "t", "s");
  std::vector<Delivery> batch;
  std::vector<Assignment::Position> positions;
  Polled(0, {0, 1, 2, 3}, &batch, &positions);
  a.Admit(batch, 0, positions, /*max_bytes=*/2, /*keep=*/true);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].message.data, "0/0");
  EXPECT_FALSE(batch[1].token.empty());
  // With something stashed, later messages queue behind it, whatever the room.
  std::vector<Delivery> more;
  positions.clear();
  Polled(0, {4}, &more, &positions);
  a.Admit(more, 0, positions, 100, /*keep=*/true);
  EXPECT_TRUE(more.empty()) << "a partition's order holds";
  std::vector<Delivery> out;
  ASSERT_TRUE(a.TakeStash(10, 100, &out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].message.data, "0/2");
  EXPECT_EQ(out[2].message.data, "0/4");
  out.clear();
  EXPECT_FALSE(a.TakeStash(10, 100, &out));
}

TEST(Assignment, DropsWhatIsNotAssignedOrAlreadyInFlight) {
  Assignment a;
  a.Assign({{.partition = 0, .offset = 0}}, "t", "s");
  HandOut(a, 0, 2);
  std::vector<Delivery> batch;
  std::vector<Assignment::Position> positions;
  Polled(0, {1, 2}, &batch, &positions);  // 1: a re-read of a message in flight
  Polled(7, {0}, &batch, &positions);     // 7: not assigned
  a.Admit(batch, 0, positions, 100, /*keep=*/true);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].message.data, "0/2");
}

// The revoke waits for a handler's ack, which then counts in the revoke's commit: an
// orderly rebalance redelivers nothing.
TEST(Assignment, RevokeWaitsForHandlersAndCommitsTheirAcks) {
  Assignment a;
  a.Assign({{.partition = 0, .offset = 0}, {.partition = 1, .offset = 0}}, "t", "s");
  std::vector<Delivery> p0 = HandOut(a, 0, 3);
  HandOut(a, 1, 1);
  a.Ack({p0[0].token});
  auto revoked = std::async(std::launch::async, [&a] {
    return a.Revoke({0}, /*lost=*/false, /*wait_for_handlers=*/true, absl::Seconds(30));
  });
  ASSERT_EQ(revoked.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout)
      << "returned with two messages of the partition still in handlers";
  a.Ack({p0[1].token, p0[2].token});
  ASSERT_EQ(revoked.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  Assignment::Revoked r = revoked.get();
  EXPECT_EQ(r.unsettled, 0u);
  ASSERT_EQ(r.commits.size(), 1u) << "partition 1 is not revoked";
  EXPECT_EQ(r.commits[0].partition, 0);
  EXPECT_EQ(r.commits[0].offset, 3);
  EXPECT_NE(r.waited.find("for 2 message(s)"), std::string::npos) << r.waited;
}

TEST(Assignment, RevokeGivesUpAfterItsWaitAndCountsTheUnsettled) {
  Assignment a;
  a.Assign({{.partition = 0, .offset = 0}}, "t", "s");
  HandOut(a, 0, 2);
  Assignment::Revoked r = a.Revoke({0}, false, true, absl::Milliseconds(50));
  EXPECT_EQ(r.unsettled, 2u);
  ASSERT_EQ(r.commits.size(), 1u);
  EXPECT_EQ(r.commits[0].offset, 0) << "nothing settled: the group starts there again";
}

TEST(Assignment, InterruptEndsTheWait) {
  Assignment a;
  a.Assign({{.partition = 0, .offset = 0}}, "t", "s");
  HandOut(a, 0, 1);
  auto revoked = std::async(std::launch::async,
                            [&a] { return a.Revoke({0}, false, true, absl::Seconds(30)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  a.Interrupt();
  ASSERT_EQ(revoked.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(revoked.get().unsettled, 0u) << "a stopping subscriber does not warn";
}

// What the dispatcher has not handed to a handler is taken back, not waited for; a
// lost partition is not waited for at all.
TEST(Assignment, RevokeTakesBackWhatNoHandlerStartedAndDoesNotWaitForLost) {
  Assignment a;
  a.Assign({{.partition = 0, .offset = 0}, {.partition = 1, .offset = 0}}, "t", "s");
  std::vector<Delivery> p0 = HandOut(a, 0, 2);
  std::vector<Delivery> p1 = HandOut(a, 1, 1);
  std::vector<std::string> queued = {p0[0].token, p0[1].token, p1[0].token};
  int asked = 0;
  a.SetWithdrawer([&](absl::FunctionRef<bool(const std::string&)> wanted) {
    ++asked;
    std::vector<std::string> out;
    for (const auto& t : queued) {
      if (wanted(t)) out.push_back(t);
    }
    return out;
  });
  Assignment::Revoked r = a.Revoke({0}, false, true, absl::Seconds(30));
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(r.unsettled, 0u);
  EXPECT_NE(r.waited.find("took back 2 queued"), std::string::npos) << r.waited;

  const absl::Time start = absl::Now();
  r = a.Revoke({1}, /*lost=*/true, /*wait_for_handlers=*/false, absl::Seconds(30));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_TRUE(r.waited.empty());
  EXPECT_TRUE(r.commits.empty()) << "a lost partition is not committed";
}

TEST(Assignment, RevokeDropsStashedMessagesOfItsPartitions) {
  Assignment a;
  a.Assign({{.partition = 0, .offset = 0}, {.partition = 1, .offset = 0}}, "t", "s");
  std::vector<Delivery> batch;
  std::vector<Assignment::Position> positions;
  Polled(0, {0}, &batch, &positions);
  Polled(1, {0}, &batch, &positions);
  a.Admit(batch, 0, positions, 100, /*keep=*/false);  // the keeper's: all stashed
  Assignment::Revoked r = a.Revoke({0}, false, true, absl::Seconds(30));
  EXPECT_EQ(r.unsettled, 0u) << "stashed messages were never handed out";
  std::vector<Delivery> out;
  ASSERT_TRUE(a.TakeStash(10, 100, &out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].message.data, "1/0");
}

TEST(Assignment, PausedAndErrorAreKept) {
  Assignment a;
  EXPECT_FALSE(a.paused());
  EXPECT_TRUE(a.SetPaused(true));
  EXPECT_FALSE(a.SetPaused(true)) << "unchanged";
  a.Assign({{.partition = 0, .offset = 0}}, "t", "s");
  EXPECT_TRUE(a.paused()) << "an assignment does not unpause (the source pauses the new ones)";
  EXPECT_TRUE(a.error().ok());
  a.SetError(absl::NotFoundError("topic deleted"));
  EXPECT_EQ(a.error().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace unibus::kafka_internal
