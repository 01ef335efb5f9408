// The pubsub:// backend against the emulator: publisher batching and ordering-key
// pause/resume, admin settings, message fields.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/url.h"
#include "pubsub/admin.h"
#include "pubsub/emulator_testing.h"
#include "pubsub/publisher.h"
#include "unibus/unibus.h"

namespace unibus::pubsub_internal {
namespace {

Broker Open(Emulator* e) {
  auto b = Broker::Open(e->Url(FreshProject()));
  EXPECT_TRUE(b.ok()) << b.status();
  return *b;
}

TEST(PubsubEmulator, ManyBatchesInFlightKeepPerKeyOrder) {
  UNIBUS_NEED_EMULATOR(emu);
  Broker broker = Open(emu);
  ASSERT_TRUE(broker.admin().CreateTopic("orders").ok());
  SubscriberOptions so;
  so.topic = "orders";
  auto sub = broker.subscriber("orders-reader", so);
  ASSERT_TRUE(sub.ok()) << sub.status();
  auto pub = broker.publisher("orders", PublisherOptions{.max_batch_messages = 10});
  ASSERT_TRUE(pub.ok()) << pub.status();
  const int n = 600;
  std::vector<PublishFuture> fs;
  for (int i = 0; i < n; ++i) {
    auto b = MessageBuilder{}.data(absl::StrCat(i)).attribute("i", absl::StrCat(i));
    if (i % 2 == 0) b.ordering_key(absl::StrCat("key-", i % 6));
    fs.push_back(pub->Publish(std::move(b).build()));
  }
  ASSERT_TRUE(pub->Flush().ok());
  std::set<std::string> ids;
  for (auto& f : fs) {
    ASSERT_TRUE(f.get().ok()) << f.get().status();
    ids.insert(*f.get());
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(n)) << "message ids must be unique";

  std::map<std::string, int> last;  // key -> last i seen
  int got = 0;
  const absl::Time end = absl::Now() + absl::Seconds(30);
  while (got < n && absl::Now() < end) {
    auto r = sub->Pull(100, absl::Milliseconds(200));
    ASSERT_TRUE(r.ok()) << r.status();
    for (auto& m : *r) {
      const int i = std::stoi(m.message.attribute("i"));
      EXPECT_EQ(m.message.data, absl::StrCat(i));
      EXPECT_EQ(m.message.topic, "orders");
      if (!m.message.ordering_key.empty()) {
        auto it = last.find(m.message.ordering_key);
        if (it != last.end()) {
          EXPECT_LT(it->second, i) << m.message.ordering_key;
        }
        last[m.message.ordering_key] = i;
      }
      ++got;
      std::move(m.ack).ack();
    }
  }
  EXPECT_EQ(got, n);
}

TEST(PubsubEmulator, FailedKeyPausesUntilFlushResumesIt) {
  UNIBUS_NEED_EMULATOR(emu);
  Broker broker = Open(emu);
  ASSERT_TRUE(broker.admin().CreateTopic("paused").ok());
  auto pub = broker.publisher("paused");
  ASSERT_TRUE(pub.ok());
  ASSERT_TRUE(pub->Publish(MessageBuilder{}.data("a").ordering_key("k").build()).get().ok());
  // The topic disappears: the next publish of key k fails (NotFound, not retried).
  ASSERT_TRUE(broker.admin().DeleteTopic("paused").ok());
  auto failed = pub->Publish(MessageBuilder{}.data("b").ordering_key("k").build()).get();
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kNotFound) << failed.status();
  ASSERT_TRUE(broker.admin().CreateTopic("paused").ok());
  // Key k stays paused even though the topic is back; other keys are unaffected.
  auto blocked = pub->Publish(MessageBuilder{}.data("c").ordering_key("k").build()).get();
  EXPECT_EQ(blocked.status().code(), absl::StatusCode::kFailedPrecondition) << blocked.status();
  EXPECT_NE(blocked.status().message().find("paused"), std::string::npos) << blocked.status();
  EXPECT_TRUE(pub->Publish(MessageBuilder{}.data("d").ordering_key("other").build()).get().ok());
  EXPECT_TRUE(pub->Publish(MessageBuilder{}.data("e").build()).get().ok());
  // Flush reports the failure and resumes the key.
  EXPECT_FALSE(pub->Flush().ok());
  EXPECT_TRUE(pub->Publish(MessageBuilder{}.data("f").ordering_key("k").build()).get().ok());
  EXPECT_TRUE(pub->Flush().ok());
}

TEST(PubsubEmulator, ResumePublishLetsOneKeyGoAgain) {
  UNIBUS_NEED_EMULATOR(emu);
  Broker broker = Open(emu);
  ASSERT_TRUE(broker.admin().CreateTopic("resume").ok());
  auto pub = broker.publisher("resume");
  ASSERT_TRUE(pub.ok());
  ASSERT_TRUE(broker.admin().DeleteTopic("resume").ok());
  EXPECT_FALSE(pub->Publish(MessageBuilder{}.data("x").ordering_key("k").build()).get().ok());
  ASSERT_TRUE(broker.admin().CreateTopic("resume").ok());
  pub->ResumePublish("k");
  EXPECT_TRUE(pub->Publish(MessageBuilder{}.data("y").ordering_key("k").build()).get().ok());
}

TEST(PubsubEmulator, AdminKeepsSubscriptionSettings) {
  UNIBUS_NEED_EMULATOR(emu);
  Broker broker = Open(emu);
  Admin admin = broker.admin();
  ASSERT_TRUE(admin.CreateTopic(TopicConfig{.name = "events", .retention = absl::Hours(1)}).ok());
  ASSERT_TRUE(admin.CreateTopic("events-dlq").ok());
  auto t = admin.DescribeTopic("events");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->retention, absl::Hours(1));
  ASSERT_TRUE(admin
                  .CreateSubscription(SubscriptionConfig{.name = "events-sub",
                                                         .topic = "events",
                                                         .ack_deadline = absl::Seconds(42),
                                                         .dead_letter_topic = "events-dlq",
                                                         .max_delivery_attempts = 7})
                  .ok());
  auto s = admin.DescribeSubscription("events-sub");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->topic, "events");
  EXPECT_EQ(s->ack_deadline, absl::Seconds(42));
  EXPECT_EQ(s->dead_letter_topic, "events-dlq");
  auto subs = admin.ListSubscriptions();
  ASSERT_TRUE(subs.ok());
  EXPECT_EQ(*subs, std::vector<std::string>{"events-sub"});
  auto bad = admin.CreateTopic(TopicConfig{.name = "short", .retention = absl::Seconds(5)});
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument) << bad;
}

// ordering=off holds for subscriptions made through Admin too (the bench makes its
// subscription that way), though SubscriptionConfig::message_ordering defaults to true.
TEST(PubsubEmulator, OrderingOffReachesAdminCreatedSubscriptions) {
  UNIBUS_NEED_EMULATOR(emu);
  for (const bool ordered : {true, false}) {
    const std::string url = emu->Url(FreshProject()) + (ordered ? "" : "&ordering=off");
    auto parsed = core_internal::ParseUrl(url);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    auto endpoint = ParseEndpoint(*parsed);
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
    auto conn = Connection::Open(*endpoint, BrokerOptions{});
    ASSERT_TRUE(conn.ok()) << conn.status();
    PubsubAdmin admin(*conn);
    auto made = admin.CreateTopic(TopicConfig{.name = "events"});
    ASSERT_TRUE(made.ok()) << made;
    made = admin.CreateSubscription(SubscriptionConfig{.name = "events-sub", .topic = "events"});
    ASSERT_TRUE(made.ok()) << made;
    auto sub = admin.GetSubscription("events-sub");
    ASSERT_TRUE(sub.ok()) << sub.status();
    EXPECT_EQ(sub->enable_message_ordering(), ordered) << url;
  }
}

TEST(PubsubEmulator, CapabilitiesSayTheEmulatorForgetsOnRestart) {
  UNIBUS_NEED_EMULATOR(emu);
  Broker broker = Open(emu);
  Capabilities c = broker.capabilities();
  EXPECT_EQ(c.backend, "pubsub");
  EXPECT_FALSE(c.survives_broker_restart);
  EXPECT_TRUE(c.ordering);
  EXPECT_FALSE(c.partitions);
}

}  // namespace
}  // namespace unibus::pubsub_internal
