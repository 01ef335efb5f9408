// Killing and restarting the emulator under a running subscriber: the subscriber
// reconnects and reports what the restart lost instead of hanging.
#include <gtest/gtest.h>

#include "pubsub/emulator.h"
#include "unibus/unibus.h"

namespace unibus::pubsub_internal {
namespace {

TEST(PubsubRestart, SubscriberReportsTheLossAfterAnEmulatorRestart) {
  auto emu = Emulator::Start();
  if (!emu.ok()) GTEST_SKIP() << "Pub/Sub emulator not available, test skipped: " << emu.status();
  auto b = Broker::Open((*emu)->Url("unibus-restart"));
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE(b->admin().CreateTopic("jobs").ok());
  auto sub = b->subscriber("jobs-worker", SubscriberOptions{.topic = "jobs"});
  ASSERT_TRUE(sub.ok()) << sub.status();
  std::atomic<int> handled{0};
  auto session = sub->Subscribe([&](Message, AckHandler h) {
    ++handled;
    std::move(h).ack();
  });
  ASSERT_TRUE(session.ok());
  auto p = b->publisher("jobs");
  ASSERT_TRUE(p.ok());
  for (int i = 0; i < 20; ++i) (void)p->Publish(MessageBuilder{}.data("before").build());
  ASSERT_TRUE(p->Flush().ok());
  const absl::Time end = absl::Now() + absl::Seconds(30);
  while (handled.load() < 20 && absl::Now() < end) absl::SleepFor(absl::Milliseconds(20));
  ASSERT_EQ(handled.load(), 20);

  // While the emulator is down the session keeps trying; it does not end.
  (*emu)->Kill();
  EXPECT_EQ(session->Wait(absl::Seconds(1)).code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE((*emu)->Restart().ok());
  // The restarted emulator has no subscription: the session ends with NotFound
  // saying the emulator lost it.
  absl::Status ended = session->Wait(absl::Seconds(60));
  EXPECT_EQ(ended.code(), absl::StatusCode::kNotFound) << ended;
  EXPECT_NE(std::string(ended.message()).find("restart"), std::string::npos) << ended;
  EXPECT_NE(std::string(ended.message()).find("jobs-worker"), std::string::npos) << ended;
  session->Stop();

  // Recreated, the same broker (same channels) works again.
  ASSERT_TRUE(b->admin().CreateTopic("jobs").ok());
  auto again = b->subscriber("jobs-worker", SubscriberOptions{.topic = "jobs"});
  ASSERT_TRUE(again.ok()) << again.status();
  auto p2 = b->publisher("jobs");
  ASSERT_TRUE(p2.ok()) << p2.status();
  ASSERT_TRUE(p2->Publish(MessageBuilder{}.data("after").build()).get().ok());
  std::vector<std::string> got;
  const absl::Time end2 = absl::Now() + absl::Seconds(30);
  while (got.empty() && absl::Now() < end2) {
    auto r = again->Pull(10, absl::Milliseconds(200));
    ASSERT_TRUE(r.ok()) << r.status();
    for (auto& m : *r) {
      got.push_back(m.message.data);
      std::move(m.ack).ack();
    }
  }
  EXPECT_EQ(got, std::vector<std::string>{"after"});
}

}  // namespace
}  // namespace unibus::pubsub_internal
