// Start position on pubsub:// against the emulator: topics unibus creates retain
// messages, so a new subscription at kEarliest replays what was published before it
// (as on every other backend); on a topic without retention it says it cannot.
#include "pubsub/admin.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "core/url.h"
#include "pubsub/emulator_testing.h"
#include "unibus/unibus.h"

namespace unibus::pubsub_internal {
namespace {

std::vector<std::string> Drain(Subscriber& sub) {
  std::vector<std::string> got;
  for (int i = 0; i < 30 && got.size() < 3; ++i) {
    auto batch = sub.Pull(10, absl::Milliseconds(100));
    if (!batch.ok()) break;
    for (auto& m : *batch) {
      got.push_back(m.message.data);
      std::move(m.ack).ack();
    }
  }
  return got;
}

TEST(PubsubStartPosition, EarliestReplaysWhatWasPublishedBeforeTheSubscription) {
  UNIBUS_NEED_EMULATOR(emu);
  auto broker = Broker::Open(emu->Url(FreshProject()));
  ASSERT_TRUE(broker.ok()) << broker.status();
  // Made on first publish, as `unibus publish` / `unibus feed` make it.
  auto pub = broker->publisher("events", {.create_topic_if_missing = true});
  ASSERT_TRUE(pub.ok()) << pub.status();
  for (const char* m : {"one", "two", "three"})
    ASSERT_TRUE(pub->Publish(MessageBuilder{}.data(m).build()).get().ok());
  auto topic = broker->admin().DescribeTopic("events");
  ASSERT_TRUE(topic.ok()) << topic.status();
  EXPECT_EQ(topic->retention, kDefaultTopicRetention);

  auto earliest =
      broker->subscriber("from-start", {.topic = "events", .start = StartPosition::kEarliest});
  ASSERT_TRUE(earliest.ok()) << earliest.status();
  EXPECT_EQ(Drain(*earliest), (std::vector<std::string>{"one", "two", "three"}));
  auto latest =
      broker->subscriber("from-now", {.topic = "events", .start = StartPosition::kLatest});
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_TRUE(Drain(*latest).empty());
  earliest->Shutdown();
  latest->Shutdown();
  pub->Shutdown();
}

TEST(PubsubStartPosition, EarliestOnATopicWithoutRetentionSaysItCannot) {
  UNIBUS_NEED_EMULATOR(emu);
  const std::string project = FreshProject();
  auto parsed = core_internal::ParseUrl(emu->Url(project));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  auto endpoint = ParseEndpoint(*parsed);
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  auto conn = Connection::Open(*endpoint, BrokerOptions{});
  ASSERT_TRUE(conn.ok()) << conn.status();
  // A topic made by another client, without message retention.
  google::pubsub::v1::Topic t;
  t.set_name(TopicPath(project, "foreign"));
  grpc::ClientContext ctx;
  google::pubsub::v1::Topic made;
  ASSERT_TRUE((*conn)->publisher_stub().CreateTopic(&ctx, t, &made).ok());

  auto broker = Broker::Open(emu->Url(project));
  ASSERT_TRUE(broker.ok()) << broker.status();
  auto sub =
      broker->subscriber("foreign-reader", {.topic = "foreign", .start = StartPosition::kEarliest});
  EXPECT_EQ(sub.status().code(), absl::StatusCode::kFailedPrecondition) << sub.status();
  EXPECT_NE(sub.status().message().find("no message retention"), std::string::npos) << sub.status();
  auto subs = broker->admin().ListSubscriptions();
  ASSERT_TRUE(subs.ok());
  EXPECT_TRUE(subs->empty()) << "refused before anything was created";
  EXPECT_TRUE(broker->subscriber("foreign-reader", {.topic = "foreign"}).ok())
      << "the latest position works";
}

}  // namespace
}  // namespace unibus::pubsub_internal
