#include "unibus/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "unibus/broker.h"
#include "unibus/mocks/mock_publisher_connection.h"

namespace unibus {
namespace {

double Value(const MetricsSnapshot& s, const std::string& name, const MetricLabels& labels) {
  for (const auto& f : s) {
    if (f.name != name) continue;
    for (const auto& p : f.points) {
      if (p.labels == labels) return f.type == MetricType::kHistogram ? p.histogram.count : p.value;
    }
  }
  return -1;
}

TEST(MetricsRegistryTest, SameNameAndLabelsIsOneMetric) {
  MetricsRegistry r;
  auto a = r.counter("jobs_total", "Jobs.", {{"stage", "feed"}});
  auto b = r.counter("jobs_total", "Jobs.", {{"stage", "feed"}});
  auto c = r.counter("jobs_total", "Jobs.", {{"stage", "sink"}});
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  (*a)->Increment();
  (*b)->Increment(2);
  EXPECT_EQ(Value(r.Snapshot(), "jobs_total", {{"stage", "feed"}}), 3);
  EXPECT_EQ(Value(r.Snapshot(), "jobs_total", {{"stage", "sink"}}), 0);
}

TEST(MetricsRegistryTest, RejectsBadNamesAndTypeClashes) {
  MetricsRegistry r;
  EXPECT_EQ(r.counter("bad-name", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.counter("9lives", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.counter("ok_total", "", {{"bad-label", "x"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.counter("ok_total", "", {{"le", "x"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(r.counter("things_total", "").ok());
  auto clash = r.gauge("things_total", "");
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(clash.status().message(), "is a counter"));
}

TEST(MetricsRegistryTest, HistogramBucketsAndText) {
  MetricsRegistry r;
  auto h = r.histogram("wait_seconds", "Wait.", {{"q", "a"}}, {0.25, 1});
  ASSERT_TRUE(h.ok());
  (*h)->Observe(0.125);
  (*h)->Observe(0.25);  // le is inclusive
  (*h)->Observe(0.5);
  (*h)->Observe(7);
  const std::string text = PrometheusText(r.Snapshot());
  EXPECT_EQ(text,
            "# HELP wait_seconds Wait.\n"
            "# TYPE wait_seconds histogram\n"
            "wait_seconds_bucket{q=\"a\",le=\"0.25\"} 2\n"
            "wait_seconds_bucket{q=\"a\",le=\"1\"} 3\n"
            "wait_seconds_bucket{q=\"a\",le=\"+Inf\"} 4\n"
            "wait_seconds_sum{q=\"a\"} 7.875\n"
            "wait_seconds_count{q=\"a\"} 4\n");
}

TEST(MetricsRegistryTest, TextEscapesHelpAndLabelValues) {
  MetricsRegistry r;
  auto g = r.gauge("temp", "Line one\nback\\slash", {{"path", "a\"b\\c\nd"}});
  ASSERT_TRUE(g.ok());
  (*g)->Set(-1.5);
  EXPECT_EQ(PrometheusText(r.Snapshot()),
            "# HELP temp Line one\\nback\\\\slash\n"
            "# TYPE temp gauge\n"
            "temp{path=\"a\\\"b\\\\c\\nd\"} -1.5\n");
}

TEST(MetricsRegistryTest, CollectorsAddFiguresUntilRemoved) {
  MetricsRegistry r;
  int calls = 0;
  const int id = r.AddCollector([&](MetricsSnapshot& out) {
    ++calls;
    out.push_back({"queue_depth", "Depth.", MetricType::kGauge, {{{{"q", "x"}}, 42, {}}}});
  });
  EXPECT_EQ(Value(r.Snapshot(), "queue_depth", {{"q", "x"}}), 42);
  r.RemoveCollector(id);
  EXPECT_EQ(Value(r.Snapshot(), "queue_depth", {{"q", "x"}}), -1);
  EXPECT_EQ(calls, 1);
}

// The counting publisher passes every call on to the publisher it wraps, and counts
// the publish the wrapped one accepted.
TEST(ClientMetricsTest, AWrappedPublisherForwardsEveryCall) {
  auto mock = std::make_shared<::testing::StrictMock<unibus_mocks::MockPublisherConnection>>();
  ::testing::InSequence in_order;
  EXPECT_CALL(*mock, Publish).WillOnce([](Message m) {
    EXPECT_EQ(m.data, "x");
    return MakeReadyFuture<absl::StatusOr<MessageId>>(MessageId("m-1"));
  });
  EXPECT_CALL(*mock, ResumePublish("k"));
  EXPECT_CALL(*mock, Flush).WillOnce(::testing::Return(absl::UnavailableError("down")));
  EXPECT_CALL(*mock, Shutdown);
  auto registry = std::make_shared<MetricsRegistry>();
  Publisher pub = PublisherMetrics(registry, "orders").Wrap(Publisher(mock));
  auto id = pub.Publish(MessageBuilder{}.data("x").build()).get();
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "m-1");
  EXPECT_EQ(Value(registry->Snapshot(), "unibus_messages_published_total", {{"topic", "orders"}}),
            1);
  pub.ResumePublish("k");
  EXPECT_EQ(pub.Flush().code(), absl::StatusCode::kUnavailable);
  pub.Shutdown();
}

// A group published through the counting publisher reaches the wrapped one as a
// group (PublishMany), not message by message, and each accepted message is counted.
TEST(ClientMetricsTest, AWrappedPublisherForwardsGroupsWhole) {
  class GroupRecorder : public PublisherConnection {
   public:
    PublishFuture Publish(Message) override {
      ADD_FAILURE() << "the group was split into single publishes";
      return MakeReadyFuture<absl::StatusOr<MessageId>>(absl::InternalError("split"));
    }
    std::vector<PublishFuture> PublishMany(std::vector<Message> messages) override {
      groups.push_back(messages.size());
      std::vector<PublishFuture> out;
      for (std::size_t i = 0; i < messages.size(); ++i) {
        out.push_back(MakeReadyFuture<absl::StatusOr<MessageId>>(
            i == 1 ? absl::StatusOr<MessageId>(absl::UnavailableError("down"))
                   : absl::StatusOr<MessageId>(absl::StrCat("m-", i))));
      }
      return out;
    }
    absl::Status Flush() override { return absl::OkStatus(); }
    void Shutdown() override {}
    std::vector<std::size_t> groups;
  };
  auto inner = std::make_shared<GroupRecorder>();
  auto registry = std::make_shared<MetricsRegistry>();
  Publisher pub = PublisherMetrics(registry, "orders").Wrap(Publisher(inner));
  std::vector<Message> group(3, MessageBuilder{}.data("x").build());
  auto fs = pub.PublishMany(std::move(group));
  ASSERT_EQ(fs.size(), 3u);
  EXPECT_EQ(*fs[0].get(), "m-0");
  EXPECT_EQ(fs[1].get().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(*fs[2].get(), "m-2");
  EXPECT_EQ(inner->groups, std::vector<std::size_t>{3});
  EXPECT_EQ(Value(registry->Snapshot(), "unibus_messages_published_total", {{"topic", "orders"}}),
            2);
}

// Wrapping keeps the contract of Broker::publisher: what the broker's publisher
// refuses (ValidateForPublish), the wrapped one refuses too, before the broker.
TEST(ClientMetricsTest, AWrappedBrokerPublisherKeepsThePortabilityChecks) {
  auto broker = Broker::Open("mem://client-metrics-rules");
  ASSERT_TRUE(broker.ok());
  ASSERT_TRUE(broker->admin().CreateTopic("orders").ok());
  auto registry = std::make_shared<MetricsRegistry>();
  auto raw = broker->publisher("orders");
  ASSERT_TRUE(raw.ok());
  Publisher pub = PublisherMetrics(registry, "orders").Wrap(*raw);
  auto empty = pub.Publish(Message{}).get();
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument) << empty.status();
  auto bad_utf8 = pub.Publish(MessageBuilder{}.data("x").attribute("k", "\xff\xfe").build()).get();
  EXPECT_EQ(bad_utf8.status().code(), absl::StatusCode::kInvalidArgument) << bad_utf8.status();
  EXPECT_THAT(bad_utf8.status().message(), ::testing::HasSubstr("UTF-8"));
  EXPECT_EQ(Value(registry->Snapshot(), "unibus_messages_published_total", {{"topic", "orders"}}),
            0);
  // A valid message still goes through and is counted.
  ASSERT_TRUE(pub.Publish(MessageBuilder{}.data("x").build()).get().ok());
  EXPECT_EQ(Value(registry->Snapshot(), "unibus_messages_published_total", {{"topic", "orders"}}),
            1);
  pub.Shutdown();
}

// The client figures move as messages flow through a real (mem) broker.
TEST(ClientMetricsTest, CountsPublishesDeliveriesAcksNacksAndLatency) {
  auto broker = Broker::Open("mem://client-metrics");
  ASSERT_TRUE(broker.ok());
  ASSERT_TRUE(broker->admin().CreateTopic("orders").ok());
  auto registry = std::make_shared<MetricsRegistry>();
  PublisherMetrics pm(registry, "orders");
  auto raw = broker->publisher("orders");
  ASSERT_TRUE(raw.ok());
  Publisher pub = pm.Wrap(*raw);
  auto sub = broker->subscriber("billing", {.topic = "orders",
                                            .min_backoff = absl::Milliseconds(1),
                                            .max_backoff = absl::Milliseconds(2)});
  ASSERT_TRUE(sub.ok());
  SubscriberMetrics sm(registry, *sub, "billing");
  const MetricLabels s{{"subscription", "billing"}};
  EXPECT_EQ(Value(registry->Snapshot(), "unibus_messages_acked_total", s), 0);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(pub.Publish(MessageBuilder{}.data("x").build()).get().ok());
  // A publish to a topic that does not exist counts as a failure with its code.
  auto missing = broker->publisher("nowhere");
  if (missing.ok()) {
    PublisherMetrics nowhere(registry, "nowhere");
    EXPECT_FALSE(nowhere.Wrap(*missing).Publish(MessageBuilder{}.data("x").build()).get().ok());
    EXPECT_EQ(Value(registry->Snapshot(), "unibus_publish_failures_total",
                    {{"topic", "nowhere"}, {"code", "NOT_FOUND"}}),
              1);
  }
  int acked = 0, nacked = 0;
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (acked < 5 && absl::Now() < end) {
    auto got = sub->Pull(10, absl::Milliseconds(100));
    ASSERT_TRUE(got.ok());
    sm.Wrap(*got);
    for (auto& m : *got) {
      if (m.message.delivery_attempt == 1 && nacked < 2) {
        ++nacked;
        std::move(m.ack).nack("try again");
      } else {
        ++acked;
        std::move(m.ack).ack();
      }
    }
  }
  ASSERT_EQ(acked, 5);
  const MetricsSnapshot snap = registry->Snapshot();
  EXPECT_EQ(Value(snap, "unibus_messages_published_total", {{"topic", "orders"}}), 5);
  EXPECT_EQ(Value(snap, "unibus_messages_delivered_total", s), 7);
  EXPECT_EQ(Value(snap, "unibus_messages_acked_total", s), 5);
  EXPECT_EQ(Value(snap, "unibus_messages_nacked_total", s), 2);
  EXPECT_EQ(Value(snap, "unibus_messages_redelivered_total", s), 2);
  EXPECT_EQ(Value(snap, "unibus_messages_outstanding", s), 0);
  EXPECT_EQ(Value(snap, "unibus_handler_seconds", s), 7);             // histogram count
  EXPECT_EQ(Value(snap, "unibus_end_to_end_latency_seconds", s), 5);  // acks only
  sub->Shutdown();
}

// Dead letters are counted by reason class: rejected at once as unprocessable, or
// after max_delivery_attempts nacks.
TEST(ClientMetricsTest, CountsDeadLettersByReasonClass) {
  auto broker = Broker::Open("mem://client-metrics-dead-letters");
  ASSERT_TRUE(broker.ok());
  ASSERT_TRUE(broker->admin().CreateTopic("orders").ok());
  auto registry = std::make_shared<MetricsRegistry>();
  auto pub = broker->publisher("orders");
  ASSERT_TRUE(pub.ok());
  auto sub = broker->subscriber("billing", {.topic = "orders",
                                            .min_backoff = absl::Milliseconds(1),
                                            .max_backoff = absl::Milliseconds(2),
                                            .max_delivery_attempts = 2});
  ASSERT_TRUE(sub.ok());
  SubscriberMetrics sm(registry, *sub, "billing");
  ASSERT_TRUE(pub->Publish(MessageBuilder{}.data("bad").build()).get().ok());
  ASSERT_TRUE(pub->Publish(MessageBuilder{}.data("flaky").build()).get().ok());
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (sub->stats().dead_lettered < 2 && absl::Now() < end) {
    auto got = sub->Pull(10, absl::Milliseconds(50));
    ASSERT_TRUE(got.ok());
    for (auto& m : *got) {
      if (m.message.data == "bad") {
        std::move(m.ack).reject("not an order");
      } else {
        std::move(m.ack).nack("try again");
      }
    }
  }
  const MetricsSnapshot snap = registry->Snapshot();
  EXPECT_EQ(Value(snap, "unibus_messages_dead_lettered_total",
                  {{"subscription", "billing"}, {"reason", "rejected"}}),
            1);
  EXPECT_EQ(Value(snap, "unibus_messages_dead_lettered_total",
                  {{"subscription", "billing"}, {"reason", "max_delivery_attempts"}}),
            1);
  sub->Shutdown();
}

}  // namespace
}  // namespace unibus
