// The sqlite backend through the public API: Broker::Open, admin, publishers and
// subscribers on the shared dispatcher.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "spdlog/logger.h"
#include "spdlog/sinks/ostream_sink.h"
#include "sqlite/sqlite_test_util.h"
#include "unibus/unibus.h"

namespace unibus::sqlite_internal {
namespace {

// A file in the layout of versions up to 2026-12-02 (messages WITHOUT ROWID) opens
// and works; the broker's logger says so once, at info, with where to read how to move
// it. A file in today's layout is not mentioned.
TEST(BrokerTest, AFileInTheEarlierLayoutIsNotedInTheLog) {
  std::ostringstream log;
  BrokerOptions options;
  options.logger = std::make_shared<spdlog::logger>(
      "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  options.logger->set_level(spdlog::level::info);
  TempDb earlier;
  ASSERT_TRUE(WriteEarlierLayout(earlier.path()).ok());
  {
    auto broker = Broker::Open(earlier.url(), options);
    ASSERT_TRUE(broker.ok()) << broker.status();
    ASSERT_TRUE(broker->admin().CreateTopic("orders").ok());
  }
  EXPECT_NE(log.str().find("earlier WITHOUT ROWID layout"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("An image row no longer takes a page of its own"), std::string::npos);
  log.str("");
  TempDb today;
  {
    auto broker = Broker::Open(today.url(), options);
    ASSERT_TRUE(broker.ok()) << broker.status();
    ASSERT_TRUE(broker->admin().CreateTopic("orders").ok());
  }
  EXPECT_EQ(log.str().find("WITHOUT ROWID"), std::string::npos) << log.str();
}

TEST(BrokerTest, AdminCreatesListsDescribesAndDeletes) {
  TempDb db;
  auto broker = Broker::Open(db.url());
  ASSERT_TRUE(broker.ok()) << broker.status();
  EXPECT_EQ(broker->capabilities().backend, "sqlite");
  EXPECT_TRUE(broker->capabilities().durable);
  EXPECT_TRUE(broker->capabilities().multi_process);
  EXPECT_EQ(broker->url(), db.url());
  Admin admin = broker->admin();
  ASSERT_TRUE(admin.CreateTopic("orders").ok());
  EXPECT_EQ(admin.CreateTopic("orders").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(admin.CreateTopic("no").code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(admin
                  .CreateSubscription(
                      {.name = "billing", .topic = "orders", .start = StartPosition::kEarliest})
                  .ok());
  EXPECT_EQ(admin.CreateSubscription({.name = "billing", .topic = "orders"}).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(admin.CreateSubscription({.name = "other", .topic = "missing"}).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(*admin.ListTopics(), std::vector<std::string>{"orders"});
  EXPECT_EQ(*admin.ListSubscriptions(), std::vector<std::string>{"billing"});

  auto pub = broker->publisher("orders");
  ASSERT_TRUE(pub.ok()) << pub.status();
  for (int i = 0; i < 5; ++i) pub->Publish(MessageBuilder{}.data(absl::StrCat(i)).build());
  ASSERT_TRUE(pub->Flush().ok());
  auto topic = admin.DescribeTopic("orders");
  ASSERT_TRUE(topic.ok());
  EXPECT_EQ(topic->messages, 5);
  auto sub = admin.DescribeSubscription("billing");
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(sub->topic, "orders");
  EXPECT_EQ(sub->backlog, 5);
  EXPECT_EQ(sub->in_flight, 0);

  ASSERT_TRUE(admin.DeleteTopic("orders").ok());
  EXPECT_EQ(admin.DescribeSubscription("billing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(admin.DeleteTopic("orders").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(RawQuery(db.path(), "SELECT count(*) FROM messages"), 0);
}

TEST(BrokerTest, PublishSubscribeThroughTheDispatcher) {
  TempDb db;
  auto broker = Broker::Open(db.url());
  ASSERT_TRUE(broker.ok()) << broker.status();
  auto pub = broker->publisher("orders", {.create_topic_if_missing = true});
  ASSERT_TRUE(pub.ok()) << pub.status();
  auto sub = broker->subscriber("billing", {.topic = "orders", .start = StartPosition::kEarliest});
  ASSERT_TRUE(sub.ok()) << sub.status();
  for (int i = 0; i < 1000; ++i) pub->Publish(MessageBuilder{}.data(absl::StrCat(i)).build());
  ASSERT_TRUE(pub->Flush().ok());
  std::set<std::string> got;
  const absl::Time end = absl::Now() + absl::Seconds(30);
  while (got.size() < 1000 && absl::Now() < end) {
    auto batch = sub->Pull(500, absl::Milliseconds(100));
    ASSERT_TRUE(batch.ok()) << batch.status();
    for (auto& m : *batch) {
      got.insert(m.message.data);
      std::move(m.ack).ack();
    }
  }
  EXPECT_EQ(got.size(), 1000u);
  sub->Shutdown();
  EXPECT_EQ(RawQuery(db.path(), "SELECT count(*) FROM leases"), 0) << "shutdown commits the acks";
}

TEST(BrokerTest, NackedPastMaxAttemptsGoesToTheDeadLetterTopic) {
  TempDb db;
  auto broker = Broker::Open(db.url());
  ASSERT_TRUE(broker.ok());
  ASSERT_TRUE(broker->admin().CreateTopic("orders").ok());
  auto sub = broker->subscriber("billing", {.topic = "orders",
                                            .start = StartPosition::kEarliest,
                                            .min_backoff = absl::Milliseconds(1),
                                            .max_backoff = absl::Milliseconds(5),
                                            .max_delivery_attempts = 2});
  ASSERT_TRUE(sub.ok());
  auto pub = broker->publisher("orders");
  ASSERT_TRUE(pub->Publish(MessageBuilder{}.data("bad").build()).get().ok());
  auto dead = broker->subscriber(
      "dead", {.topic = "billing.dead-letter", .start = StartPosition::kEarliest});
  int nacks = 0;
  std::vector<PulledMessage> dl;
  const absl::Time end = absl::Now() + absl::Seconds(30);
  while (dl.empty() && absl::Now() < end) {
    auto got = sub->Pull(10, absl::Milliseconds(50));
    ASSERT_TRUE(got.ok());
    for (auto& m : *got) {
      ++nacks;
      std::move(m.ack).nack("cannot parse");
    }
    if (!dead.ok())
      dead = broker->subscriber(
          "dead", {.topic = "billing.dead-letter", .start = StartPosition::kEarliest});
    if (dead.ok()) {
      auto d = dead->Pull(10, absl::Milliseconds(50));
      ASSERT_TRUE(d.ok());
      for (auto& m : *d) dl.push_back(std::move(m));
    }
  }
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_EQ(nacks, 2);
  EXPECT_EQ(dl[0].message.data, "bad");
  EXPECT_EQ(dl[0].message.attribute(kDeadLetterReason), "cannot parse");
  EXPECT_EQ(dl[0].message.attribute(kDeadLetterSourceTopic), "orders");
}

}  // namespace
}  // namespace unibus::sqlite_internal
