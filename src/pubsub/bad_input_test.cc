// Bad input on pubsub:// gets a clear absl::Status and loses nothing.
#include <gtest/gtest.h>

#include <cstdlib>

#include "pubsub/emulator_testing.h"
#include "unibus/unibus.h"

namespace unibus::pubsub_internal {
namespace {

bool Contains(const absl::Status& s, const std::string& part) {
  return std::string(s.message()).find(part) != std::string::npos;
}

TEST(PubsubBadInput, NoEmulatorAnsweringNamesTheAddressAndWhatToDo) {
  // Nothing listens on port 1.
  auto b = Broker::Open("pubsub://unibus-test?emulator=127.0.0.1:1",
                        BrokerOptions{.connect_timeout = absl::Seconds(1)});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kUnavailable) << b.status();
  EXPECT_TRUE(Contains(b.status(), "127.0.0.1:1")) << b.status();
  EXPECT_TRUE(Contains(b.status(), "PUBSUB_EMULATOR_HOST")) << b.status();
  EXPECT_TRUE(Contains(b.status(), "emulator")) << b.status();
}

TEST(PubsubBadInput, InvalidProjectOrUrl) {
  // Google's service takes real project IDs only; the emulator takes any.
  auto b = Broker::Open("pubsub://Bad_Project!?endpoint=127.0.0.1:1");
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << b.status();
  EXPECT_TRUE(Contains(b.status(), "project ID")) << b.status();
  auto slash = Broker::Open("pubsub://a/b?emulator=127.0.0.1:1");
  EXPECT_EQ(slash.status().code(), absl::StatusCode::kInvalidArgument) << slash.status();
  EXPECT_EQ(Broker::Open("pubsub://").status().code(), absl::StatusCode::kInvalidArgument);
  auto q = Broker::Open("pubsub://unibus-test?emulatr=127.0.0.1:1");
  EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument) << q.status();
  EXPECT_TRUE(Contains(q.status(), "emulatr")) << q.status();
}

TEST(PubsubBadInput, MissingCredentialsOutsideTheEmulator) {
  // No emulator, no credentials: a clear PermissionDenied (or, where credentials
  // exist but Google is unreachable from here, a clear Unavailable).
  const char* saved_emu = std::getenv("PUBSUB_EMULATOR_HOST");
  const char* saved_creds = std::getenv("GOOGLE_APPLICATION_CREDENTIALS");
  std::string emu = saved_emu ? saved_emu : "", creds = saved_creds ? saved_creds : "";
  unsetenv("PUBSUB_EMULATOR_HOST");
  setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/unibus-test-key.json", 1);
  auto b = Broker::Open("pubsub://unibus-test", BrokerOptions{.connect_timeout = absl::Seconds(2)});
  if (saved_emu) setenv("PUBSUB_EMULATOR_HOST", emu.c_str(), 1);
  if (saved_creds)
    setenv("GOOGLE_APPLICATION_CREDENTIALS", creds.c_str(), 1);
  else
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kPermissionDenied) << b.status();
  EXPECT_TRUE(Contains(b.status(), "GOOGLE_APPLICATION_CREDENTIALS")) << b.status();
  EXPECT_TRUE(Contains(b.status(), "PUBSUB_EMULATOR_HOST")) << b.status();
}

TEST(PubsubBadInput, MissingTopicAndSubscription) {
  UNIBUS_NEED_EMULATOR(emu);
  auto b = Broker::Open(emu->Url(FreshProject()));
  ASSERT_TRUE(b.ok()) << b.status();
  auto p = b->publisher("no-such-topic");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kNotFound) << p.status();
  EXPECT_TRUE(Contains(p.status(), "no-such-topic")) << p.status();
  EXPECT_TRUE(Contains(p.status(), "unibus topics create")) << p.status();
  auto s = b->subscriber("no-such-sub");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound) << s.status();
  EXPECT_TRUE(Contains(s.status(), "no-such-sub")) << s.status();
  auto on_missing = b->subscriber("sub-of-missing", SubscriberOptions{.topic = "no-such-topic"});
  EXPECT_EQ(on_missing.status().code(), absl::StatusCode::kNotFound) << on_missing.status();
  EXPECT_EQ(b->admin().DeleteSubscription("no-such-sub").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(b->admin().DeleteTopic("no-such-topic").code(), absl::StatusCode::kNotFound);
}

TEST(PubsubBadInput, OversizedAndEmptyMessagesFailAloneWithoutHarmingTheirBatch) {
  UNIBUS_NEED_EMULATOR(emu);
  auto b = Broker::Open(emu->Url(FreshProject()));
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE(b->admin().CreateTopic("big").ok());
  auto sub = b->subscriber("big-reader", SubscriberOptions{.topic = "big"});
  ASSERT_TRUE(sub.ok());
  auto p = b->publisher("big");
  ASSERT_TRUE(p.ok());
  auto ok1 = p->Publish(MessageBuilder{}.data("before").build());
  auto huge = p->Publish(MessageBuilder{}.data(std::string(10 * 1000 * 1000 + 1, 'x')).build());
  auto empty = p->Publish(Message{});
  auto bad_attr =
      p->Publish(MessageBuilder{}.data("x").attribute(std::string(300, 'k'), "v").build());
  auto ok2 = p->Publish(MessageBuilder{}.data("after").build());
  ASSERT_TRUE(p->Flush().ok());
  EXPECT_EQ(huge.get().status().code(), absl::StatusCode::kInvalidArgument) << huge.get().status();
  EXPECT_TRUE(Contains(huge.get().status(), "at most 10000000")) << huge.get().status();
  EXPECT_EQ(empty.get().status().code(), absl::StatusCode::kInvalidArgument)
      << empty.get().status();
  EXPECT_EQ(bad_attr.get().status().code(), absl::StatusCode::kInvalidArgument)
      << bad_attr.get().status();
  EXPECT_TRUE(ok1.get().ok()) << ok1.get().status();
  EXPECT_TRUE(ok2.get().ok()) << ok2.get().status();
  // A message just under the limit goes through and comes back whole.
  std::string nine_mb(9 * 1000 * 1000, 'y');
  auto big = p->Publish(MessageBuilder{}.data(nine_mb).build());
  ASSERT_TRUE(big.get().ok()) << big.get().status();
  std::set<std::string> got;
  bool big_ok = false;
  const absl::Time end = absl::Now() + absl::Seconds(30);
  while ((got.size() < 2 || !big_ok) && absl::Now() < end) {
    auto r = sub->Pull(10, absl::Milliseconds(200));
    ASSERT_TRUE(r.ok()) << r.status();
    for (auto& m : *r) {
      if (m.message.data.size() == nine_mb.size())
        big_ok = m.message.data == nine_mb;
      else
        got.insert(m.message.data);
      std::move(m.ack).ack();
    }
  }
  EXPECT_EQ(got, (std::set<std::string>{"before", "after"}));
  EXPECT_TRUE(big_ok);
}

TEST(PubsubBadInput, InvalidResourceNames) {
  UNIBUS_NEED_EMULATOR(emu);
  auto b = Broker::Open(emu->Url(FreshProject()));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->admin().CreateTopic("goog-topic").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(b->admin().CreateTopic("a/b").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(b->admin().CreateTopic("x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(b->publisher("1topic").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace unibus::pubsub_internal
