// kafka:// against librdkafka's mock cluster: clear errors for bad input, faults
// (a broker down and back, injected request errors) and consumer-group takeover,
// each checked for lost messages.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "conformance/checker.h"
#include "conformance/drain.h"
#include "kafka/consumer_group.h"
#include "kafka/mock_cluster.h"
#include "spdlog/logger.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "unibus/unibus.h"

namespace unibus::kafka_internal {
namespace {

using conformance::Checker;
using conformance::DrainPull;

constexpr char kFastGroup[] = "session.timeout.ms=6000&heartbeat.interval.ms=500";

class KafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = MockCluster::Start(3);
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = *std::move(c);
    auto b = Broker::Open(absl::StrCat(cluster_->url(), "?", kFastGroup));
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::make_unique<Broker>(*b);
  }
  void TearDown() override {
    broker_.reset();
    cluster_.reset();
  }

  SubscriberOptions Opts(const std::string& topic) {
    SubscriberOptions o;
    o.topic = topic;
    o.start = StartPosition::kEarliest;
    o.min_backoff = absl::Milliseconds(10);
    o.max_backoff = absl::Milliseconds(50);
    return o;
  }

  // Publishes "topic/i" for i in [from, to) and records them with `checker`.
  void Publish(Publisher& p, const std::string& topic, int from, int to, Checker& checker) {
    std::vector<PublishFuture> fs;
    for (int i = from; i < to; ++i) {
      const std::string data = absl::StrCat(topic, "/", i);
      checker.Expect(data);
      fs.push_back(
          p.Publish(MessageBuilder{}.data(data).ordering_key(absl::StrCat("k", i % 10)).build()));
    }
    for (auto& f : fs) ASSERT_TRUE(f.get().ok()) << f.get().status();
  }

  // Creates `topic` with `partitions` and publishes "topic/i" for i in [0, n).
  void CreateAndPublish(const std::string& topic, int partitions, int n, Checker& checker) {
    ASSERT_TRUE(cluster_->CreateTopic(topic, partitions).ok());
    auto p = broker_->publisher(topic);
    ASSERT_TRUE(p.ok()) << p.status();
    Publish(*p, topic, 0, n, checker);
  }

  std::unique_ptr<MockCluster> cluster_;
  std::unique_ptr<Broker> broker_;
};

TEST(KafkaErrors, NoBrokerIsUnavailableNamingTheAddress) {
  BrokerOptions o;
  o.connect_timeout = absl::Milliseconds(800);
  auto b = Broker::Open("kafka://127.0.0.1:1", o);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kUnavailable) << b.status();
  EXPECT_NE(b.status().message().find("127.0.0.1:1"), std::string::npos) << b.status();
  EXPECT_NE(b.status().message().find("is Kafka running"), std::string::npos) << b.status();
}

TEST(KafkaErrors, MalformedPropertiesFileNamesTheLine) {
  const std::string path = ::testing::TempDir() + "/bad-client.properties";
  {
    std::ofstream f(path);
    // Line 3 is malformed for java.util.Properties too: a \u escape needs four hex digits.
    f << "# Confluent Cloud\nsecurity.protocol=PLAINTEXT\nsasl.\\uZZ=hunter2\n";
  }
  auto b = Broker::Open(absl::StrCat("kafka://127.0.0.1:1?config_file=", path));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << b.status();
  EXPECT_NE(b.status().message().find(":3:"), std::string::npos) << b.status();
  EXPECT_EQ(b.status().message().find("hunter2"), std::string::npos) << b.status();
}

// A `key value` line is valid Java properties; librdkafka then refuses the unknown key,
// and the error names it without echoing the value (it may be a mistyped secret).
TEST(KafkaErrors, UnknownPropertyFromAFileIsNamedWithoutItsValue) {
  const std::string path = ::testing::TempDir() + "/typo-client.properties";
  {
    std::ofstream f(path);
    f << "security.protocol=PLAINTEXT\nsasl.pasword hunter2\n";
  }
  auto b = Broker::Open(absl::StrCat("kafka://127.0.0.1:1?config_file=", path));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << b.status();
  EXPECT_NE(b.status().message().find("sasl.pasword"), std::string::npos) << b.status();
  EXPECT_EQ(b.status().message().find("hunter2"), std::string::npos) << b.status();
}

TEST(KafkaErrors, UnknownLibrdkafkaPropertyIsInvalidArgument) {
  auto b = Broker::Open("kafka://127.0.0.1:1?no.such.property=1");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << b.status();
  EXPECT_NE(b.status().message().find("no.such.property"), std::string::npos) << b.status();
}

TEST_F(KafkaTest, PropertiesFileWithEnvironmentSecretsIsUsed) {
  const std::string path = ::testing::TempDir() + "/client.properties";
  {
    std::ofstream f(path);
    f << "bootstrap.servers=" << cluster_->bootstrap() << "\nclient.id=${UNIBUS_TEST_CLIENT_ID}\n";
  }
  setenv("UNIBUS_TEST_CLIENT_ID", "from-env", 1);
  auto b = Broker::Open(absl::StrCat("kafka://?config_file=", path));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->url(), cluster_->url());
  unsetenv("UNIBUS_TEST_CLIENT_ID");
  auto missing = Broker::Open(absl::StrCat("kafka://?config_file=", path));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument) << missing.status();
  EXPECT_NE(missing.status().message().find("UNIBUS_TEST_CLIENT_ID"), std::string::npos);
}

TEST_F(KafkaTest, AuthenticationFailureIsUnauthenticated) {
  // The mock cluster speaks no SASL: the handshake fails as an authentication error.
  BrokerOptions o;
  o.connect_timeout = absl::Seconds(5);
  o.properties = {{"security.protocol", "SASL_PLAINTEXT"},
                  {"sasl.mechanisms", "PLAIN"},
                  {"sasl.username", "user"},
                  {"sasl.password", "wrong"}};
  auto b = Broker::Open(cluster_->url(), o);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kUnauthenticated) << b.status();
  EXPECT_EQ(b.status().message().find("wrong"), std::string::npos)
      << "secret leaked: " << b.status();
}

TEST_F(KafkaTest, UnknownTopicAndTopiclessSubscriptionAreNotFound) {
  EXPECT_EQ(broker_->publisher("no-such-topic").status().code(), absl::StatusCode::kNotFound);
  auto s = broker_->subscriber("some-group");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.status().message().find("SubscriberOptions::topic"), std::string::npos) << s.status();
  EXPECT_EQ(broker_->subscriber("some-group", Opts("no-such-topic")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(KafkaTest, OversizedMessagesAreInvalidArgument) {
  ASSERT_TRUE(cluster_->CreateTopic("big", 1).ok());
  auto p = broker_->publisher("big");
  ASSERT_TRUE(p.ok()) << p.status();
  // Over BrokerOptions::max_message_bytes: rejected before it is queued.
  auto r1 = p->Publish(MessageBuilder{}.data(std::string(10 * 1024 * 1024 + 1, 'x')).build()).get();
  EXPECT_EQ(r1.status().code(), absl::StatusCode::kInvalidArgument) << r1.status();
  // Under ours, over what a default Kafka broker takes (Capabilities::max_message_bytes).
  auto r2 = p->Publish(MessageBuilder{}.data(std::string(1'000'001, 'x')).build()).get();
  EXPECT_EQ(r2.status().code(), absl::StatusCode::kInvalidArgument) << r2.status();
  EXPECT_NE(r2.status().message().find("at most 1000000"), std::string::npos) << r2.status();
  auto ok = p->Publish(MessageBuilder{}.data("small").build()).get();
  EXPECT_TRUE(ok.ok()) << ok.status();
}

TEST_F(KafkaTest, CapabilitiesAndAdminOnTheMockCluster) {
  Capabilities c = broker_->capabilities();
  EXPECT_EQ(c.backend, "kafka");
  EXPECT_TRUE(c.partitions);
  EXPECT_FALSE(c.admin_create_topic) << "the mock cluster has no CreateTopics";
  Admin admin = broker_->admin();
  auto created = admin.CreateTopic(TopicConfig{.name = "made-by-admin", .partitions = 3});
  EXPECT_EQ(created.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(created.message().find("CreateTopics"), std::string::npos) << created;
  EXPECT_NE(created.message().find(cluster_->bootstrap()), std::string::npos) << created;

  ASSERT_TRUE(cluster_->CreateTopic("described", 3).ok());
  auto p = broker_->publisher("described");
  ASSERT_TRUE(p.ok());
  for (int i = 0; i < 30; ++i)
    (void)p->Publish(MessageBuilder{}.data("x").ordering_key(absl::StrCat(i)).build());
  ASSERT_TRUE(p->Flush().ok());
  auto topics = admin.ListTopics();
  ASSERT_TRUE(topics.ok()) << topics.status();
  EXPECT_TRUE(std::count(topics->begin(), topics->end(), "described"));
  auto info = admin.DescribeTopic("described");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->partitions, 3);
  EXPECT_EQ(info->replication_factor, 3);
  EXPECT_EQ(info->messages, 30);
  ASSERT_EQ(info->partition_info.size(), 3u);
  for (const auto& pi : info->partition_info) EXPECT_GE(pi.leader, 1);
  EXPECT_EQ(admin.DescribeTopic("missing").status().code(), absl::StatusCode::kNotFound);

  // A subscription is a consumer group given committed start offsets.
  ASSERT_TRUE(admin
                  .CreateSubscription(SubscriptionConfig{
                      .name = "grp", .topic = "described", .start = StartPosition::kEarliest})
                  .ok());
  EXPECT_EQ(
      admin.CreateSubscription(SubscriptionConfig{.name = "grp", .topic = "described"}).code(),
      absl::StatusCode::kAlreadyExists);
  // On a real cluster the topic is found from the group's offsets; the mock cannot
  // list a group's offsets without naming the topic, so name it.
  auto sub = broker_->subscriber("grp", Opts("described"));
  ASSERT_TRUE(sub.ok()) << sub.status();
  int got = 0;
  const absl::Time end = absl::Now() + absl::Seconds(20);
  while (got < 30 && absl::Now() < end) {
    auto r = sub->Pull(100, absl::Milliseconds(200));
    ASSERT_TRUE(r.ok()) << r.status();
    for (auto& m : *r) {
      ++got;
      std::move(m.ack).ack();
    }
  }
  EXPECT_EQ(got, 30);
}

// Publishes while a subscriber consumes and `fault` runs midway; nothing is lost.
void RunWithFault(KafkaTest* t, Broker& broker, const std::string& topic,
                  const std::function<void()>& fault, Checker& checker) {
  SubscriberOptions o;
  o.topic = topic;
  o.start = StartPosition::kEarliest;
  auto sub = broker.subscriber(topic + "-sub", o);
  ASSERT_TRUE(sub.ok()) << sub.status();
  auto session = sub->Subscribe([&](Message m, AckHandler h) {
    checker.Receive(m.data);
    std::move(h).ack();
  });
  ASSERT_TRUE(session.ok());
  auto p = broker.publisher(topic);
  ASSERT_TRUE(p.ok()) << p.status();
  const int n = 3000;
  std::vector<PublishFuture> fs;
  for (int i = 0; i < n; ++i) {
    if (i == n / 3) fault();
    const std::string data = absl::StrCat(topic, "/", i);
    checker.Expect(data);
    fs.push_back(
        p->Publish(MessageBuilder{}.data(data).ordering_key(absl::StrCat("k", i % 12)).build()));
    if (i % 100 == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a stream, not a burst
  }
  for (auto& f : fs) ASSERT_TRUE(f.get().ok()) << f.get().status();
  const absl::Time end = absl::Now() + absl::Seconds(60);
  while (checker.distinct() < n && absl::Now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  session->Stop();
  auto r = checker.Report();
  EXPECT_EQ(r.lost, 0);
  EXPECT_EQ(r.unexpected, 0);
  EXPECT_EQ(r.reordered, 0) << "a key's messages came out of order";
  (void)t;
}

TEST_F(KafkaTest, BrokerDownAndBackMidStreamLosesNothing) {
  ASSERT_TRUE(cluster_->CreateTopic("faulty", 6).ok());
  Checker checker;
  std::thread restorer;
  RunWithFault(
      this, *broker_, "faulty",
      [&] {
        ASSERT_TRUE(cluster_->SetBrokerDown(1).ok());
        restorer = std::thread([&] {
          std::this_thread::sleep_for(std::chrono::milliseconds(1500));
          ASSERT_TRUE(cluster_->SetBrokerUp(1).ok());
        });
      },
      checker);
  if (restorer.joinable()) restorer.join();
}

// A queue of one unsent message, three publishing threads, payloads on both sides of
// the copy threshold (librdkafka copies small ones; large ones are read in place until
// the delivery report): Publish blocks while the queue is full and wakes when there is
// room, and every message arrives once, byte for byte. (When blocked publishers' own
// messages were counted as queued, this took 23.7 s instead of 9.6 s.)
TEST_F(KafkaTest, AFullQueueBlocksPublishersUntilThereIsRoomAndLosesNothing) {
  ASSERT_TRUE(cluster_->CreateTopic("narrow", 3).ok());
  auto p = broker_->publisher("narrow", PublisherOptions{.max_pending_messages = 1});
  ASSERT_TRUE(p.ok()) << p.status();
  constexpr int kThreads = 3, kEach = 600;
  auto payload = [](int t, int i) {
    std::string id = absl::StrCat(t, "/", i, "/");
    return id + std::string(i % 10 == 0 ? 6000 : 90, static_cast<char>('a' + i % 26));
  };
  Checker checker;
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i) checker.Expect(payload(t, i));
  std::vector<std::thread> publishers;
  std::atomic<int> failed{0};
  for (int t = 0; t < kThreads; ++t) {
    publishers.emplace_back([&, t] {
      std::vector<PublishFuture> fs;
      for (int i = 0; i < kEach; ++i)
        fs.push_back(p->Publish(MessageBuilder{}.data(payload(t, i)).build()));
      for (auto& f : fs) failed += f.get().ok() ? 0 : 1;
    });
  }
  for (auto& th : publishers) th.join();
  EXPECT_EQ(failed.load(), 0);
  ASSERT_TRUE(p->Flush().ok());
  auto sub = broker_->subscriber("narrow-sub", Opts("narrow"));
  ASSERT_TRUE(sub.ok()) << sub.status();
  DrainPull(*sub, checker, kThreads * kEach, absl::Seconds(60));
  auto r = checker.Report();
  EXPECT_EQ(r.lost, 0);
  EXPECT_EQ(r.unexpected, 0);
  EXPECT_EQ(r.duplicated, 0);
}

TEST_F(KafkaTest, InjectedRequestErrorsLoseNothing) {
  ASSERT_TRUE(cluster_->CreateTopic("errors", 4).ok());
  Checker checker;
  RunWithFault(
      this, *broker_, "errors",
      [&] {
        ASSERT_TRUE(cluster_
                        ->PushRequestErrors(MockCluster::kProduce,
                                            {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                             RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                             RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                             RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE})
                        .ok());
        ASSERT_TRUE(cluster_
                        ->PushRequestErrors(
                            MockCluster::kFetch,
                            {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_UNKNOWN})
                        .ok());
        ASSERT_TRUE(cluster_
                        ->PushRequestErrors(MockCluster::kOffsetCommit,
                                            {RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
                                             RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT})
                        .ok());
      },
      checker);
}

// Two members split the partitions; one leaves and the other takes its partitions
// over from their committed offsets. Nothing acked before the takeover comes again.
// A message of the second batch that reaches the survivor while the group rebalances
// and is acked after its partition was revoked may come again (Kafka's eager
// rebalance: that ack can no longer be committed; at-least-once), so the second batch
// is checked for loss only. Seen: 500 (then 148) such redeliveries in 1 run of 15.
TEST_F(KafkaTest, ConsumerGroupMembersSplitPartitionsAndTakeOver) {
  ASSERT_TRUE(cluster_->CreateTopic("shared", 4).ok());
  auto c1 = broker_->subscriber("workers", Opts("shared"));
  auto c2 = broker_->subscriber("workers", Opts("shared"));
  ASSERT_TRUE(c1.ok() && c2.ok());
  Checker before_takeover, after_takeover;
  // "shared/i": the first 1000 are published before the takeover.
  auto receive = [&](const Message& m) {
    int i = 0;
    const bool first = absl::SimpleAtoi(m.data.substr(m.data.find('/') + 1), &i) && i < 1000;
    (first ? before_takeover : after_takeover).Receive(m.data);
  };
  std::atomic<int> by1{0}, by2{0};
  auto s1 = c1->Subscribe([&](Message m, AckHandler h) {
    receive(m);
    ++by1;
    std::move(h).ack();
  });
  auto s2 = c2->Subscribe([&](Message m, AckHandler h) {
    receive(m);
    ++by2;
    std::move(h).ack();
  });
  ASSERT_TRUE(s1.ok() && s2.ok());
  auto p = broker_->publisher("shared");
  ASSERT_TRUE(p.ok());
  Publish(*p, "shared", 0, 1000, before_takeover);
  absl::Time end = absl::Now() + absl::Seconds(30);
  while (before_takeover.distinct() < 1000 && absl::Now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_GT(by1.load(), 0) << "both members should own partitions";
  EXPECT_GT(by2.load(), 0) << "both members should own partitions";
  // One member stops; the other takes its partitions over.
  s2->Stop();
  c2->Shutdown();
  const int by2_at_stop = by2.load();
  Publish(*p, "shared", 1000, 2000, after_takeover);
  end = absl::Now() + absl::Seconds(40);
  while (after_takeover.distinct() < 1000 && absl::Now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  s1->Stop();
  auto r1 = before_takeover.Report();
  EXPECT_EQ(r1.lost, 0);
  EXPECT_EQ(r1.duplicated, 0) << "everything was acked before the takeover";
  auto r2 = after_takeover.Report();
  EXPECT_EQ(r2.lost, 0) << "the survivor should get every later message";
  EXPECT_EQ(by2.load(), by2_at_stop) << "a stopped member gets nothing";
}

}  // namespace
}  // namespace unibus::kafka_internal

namespace unibus::kafka_internal {
namespace {

// Messages fetched into the consumer's buffer but never handed out stay
// uncommitted: a restarted subscriber gets them.
TEST_F(KafkaTest, BufferedButUndeliveredMessagesSurviveARestart) {
  Checker checker;
  CreateAndPublish("buffered", 4, 50, checker);
  SubscriberOptions o = Opts("buffered");
  o.max_outstanding_messages = 2;
  {
    auto sub = broker_->subscriber("restarted", o);
    ASSERT_TRUE(sub.ok());
    int got = 0;
    const absl::Time end = absl::Now() + absl::Seconds(20);
    while (got < 2 && absl::Now() < end) {
      auto r = sub->Pull(2 - got, absl::Milliseconds(200));
      ASSERT_TRUE(r.ok());
      for (auto& m : *r) {
        checker.Receive(m.message.data);
        std::move(m.ack).ack();
        ++got;
      }
    }
    ASSERT_EQ(got, 2);
    sub->Shutdown();
  }
  auto sub = broker_->subscriber("restarted", Opts("buffered"));
  ASSERT_TRUE(sub.ok());
  DrainPull(*sub, checker, 50, absl::Seconds(30));
  auto r = checker.Report();
  EXPECT_EQ(r.lost, 0);
  EXPECT_EQ(r.duplicated, 0);
}

}  // namespace
}  // namespace unibus::kafka_internal

namespace unibus::kafka_internal {
namespace {

// Nobody fetches for longer than max.poll.interval.ms (a Pull caller away, or
// every handler busy): the source keeps polling with the partitions paused, so
// the consumer stays in its group. Were it dropped, its partitions would be taken
// back and the message it still holds delivered a second time.
TEST_F(KafkaTest, AnIdleCallerLongerThanMaxPollIntervalKeepsItsPartitions) {
  ASSERT_TRUE(cluster_->CreateTopic("idle", 2).ok());
  auto b = Broker::Open(
      absl::StrCat(cluster_->url(),
                   "?session.timeout.ms=3000&heartbeat.interval.ms=500&max.poll.interval.ms=3000"));
  ASSERT_TRUE(b.ok()) << b.status();
  auto p = b->publisher("idle");
  ASSERT_TRUE(p.ok());
  Checker checker;
  Publish(*p, "idle", 0, 200, checker);
  SubscriberOptions o = Opts("idle");
  o.max_outstanding_messages = 1;
  auto sub = b->subscriber("idlers", o);
  ASSERT_TRUE(sub.ok());
  std::vector<PulledMessage> held;
  const absl::Time end = absl::Now() + absl::Seconds(20);
  while (held.empty() && absl::Now() < end) {
    auto r = sub->Pull(1, absl::Milliseconds(200));
    ASSERT_TRUE(r.ok()) << r.status();
    for (auto& m : *r) held.push_back(std::move(m));
  }
  ASSERT_EQ(held.size(), 1u);
  checker.Receive(held[0].message.data);
  // Away for 2.5x max.poll.interval.ms, holding one unsettled message.
  std::this_thread::sleep_for(std::chrono::milliseconds(5000));
  std::move(held[0].ack).ack();
  const absl::Time drain_end = absl::Now() + absl::Seconds(30);
  while (checker.distinct() < 200 && absl::Now() < drain_end) {
    auto r = sub->Pull(100, absl::Milliseconds(200));
    ASSERT_TRUE(r.ok()) << r.status();
    for (auto& m : *r) {
      checker.Receive(m.message.data);
      std::move(m.ack).ack();
    }
  }
  sub->Shutdown();
  auto r = checker.Report();
  EXPECT_EQ(r.lost, 0);
  EXPECT_EQ(r.duplicated, 0)
      << "the held message came again: the consumer left its group while idle";
}

// What the source's rebalance handling relies on (PausePartitions): in librdkafka an
// application's pause outlives the partition's revoke, so a partition assigned again
// stays paused until resumed by name (librdkafka#1849).
TEST_F(KafkaTest, LibrdkafkaKeepsAPauseAcrossAnUnassignAndPausePartitionsLiftsIt) {
  Checker unused;
  CreateAndPublish("stuck", 1, 5, unused);
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] :
       std::map<std::string, std::string>{{"bootstrap.servers", cluster_->bootstrap()},
                                          {"group.id", "stuck-readers"},
                                          {"enable.auto.commit", "false"}}) {
    ASSERT_EQ(rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)), RD_KAFKA_CONF_OK)
        << err;
  }
  RdKafkaPtr rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)));
  ASSERT_NE(rk, nullptr) << err;
  rd_kafka_poll_set_consumer(rk.get());
  PartitionListPtr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), "stuck", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  // Polls for `limit`; true if a message of the topic came.
  auto got_message = [&rk](absl::Duration limit) {
    for (const absl::Time end = absl::Now() + limit; absl::Now() < end;) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
      if (m == nullptr) continue;
      const bool message = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
      rd_kafka_message_destroy(m);
      if (message) return true;
    }
    return false;
  };
  ASSERT_EQ(rd_kafka_assign(rk.get(), list.get()), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(got_message(absl::Seconds(20))) << "the consumer reads nothing";
  ASSERT_EQ(rd_kafka_pause_partitions(rk.get(), list.get()), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_EQ(rd_kafka_assign(rk.get(), nullptr), RD_KAFKA_RESP_ERR_NO_ERROR);  // revoked
  ASSERT_EQ(rd_kafka_assign(rk.get(), list.get()), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_FALSE(got_message(absl::Seconds(3)))
      << "librdkafka no longer keeps the pause across a revoke: OnRebalance's "
         "PausePartitions is then only a safeguard";
  PausePartitions(rk.get(), list.get(), /*pause=*/false, "stuck-readers", nullptr);
  EXPECT_TRUE(got_message(absl::Seconds(20))) << "still paused after PausePartitions";
  rd_kafka_consumer_close(rk.get());
}

// A member whose dispatcher is full (nobody pulls) has its partitions paused by the
// keeper. A rebalance then moves some of them to another member, and they come back
// when that member leaves. librdkafka keeps a partition's pause across its revoke and
// assignment (librdkafka#1849), so each partition assigned is paused or resumed as the
// rest: before, those coming back stayed paused while the source thought them resumed,
// and their messages were never fetched while the member kept fetching.
TEST_F(KafkaTest, PartitionsPausedWhileIdleAndMovedByRebalancesAreReadWhenTheyComeBack) {
  Checker checker;
  CreateAndPublish("repaused", 4, 100, checker);
  SubscriberOptions o = Opts("repaused");
  o.max_outstanding_messages = 4;  // full after one fetch: the keeper pauses after 1 s
  auto a = broker_->subscriber("repausers", o);
  ASSERT_TRUE(a.ok());
  std::this_thread::sleep_for(std::chrono::seconds(3));  // a's partitions paused
  auto b = broker_->subscriber("repausers", Opts("repaused"));
  ASSERT_TRUE(b.ok());
  // b holds partitions once it has read from them (the rebalance took them from a).
  int by_b = 0;
  for (const absl::Time end = absl::Now() + absl::Seconds(30); by_b == 0 && absl::Now() < end;) {
    auto r = b->Pull(100, absl::Milliseconds(200));
    ASSERT_TRUE(r.ok()) << r.status();
    for (auto& m : *r) {
      checker.Receive(m.message.data);
      std::move(m.ack).ack();
      ++by_b;
    }
  }
  ASSERT_GT(by_b, 0) << "the second member never got a partition";
  b->Shutdown();  // its partitions go back to a
  auto p = broker_->publisher("repaused");
  ASSERT_TRUE(p.ok());
  Publish(*p, "repaused", 100, 200, checker);
  DrainPull(*a, checker, 200, absl::Seconds(40));
  a->Shutdown();
  auto r = checker.Report();
  EXPECT_EQ(r.lost, 0) << "partitions that came back to the first member stayed paused";
  std::fprintf(stderr, "second member read %d; %d delivered, %d repeats\n", by_b, r.received,
               r.duplicated);
}

// Cooperative rebalances of librdkafka before 2.12 redelivered acked messages against
// Kafka 4.1 (real_kafka_test's AMemberJoiningACooperativeGroupMidStreamGetsNothingTwice):
// a subscriber that asks for them on such a librdkafka says so in the log, naming the
// subscription and what to do; on 2.12 (what CI links) nothing is said.
TEST_F(KafkaTest, CooperativeAssignorOnAnOldLibrdkafkaIsWarnedAbout) {
  ASSERT_TRUE(cluster_->CreateTopic("coop", 2).ok());
  std::ostringstream log;
  {
    BrokerOptions options;
    options.logger = std::make_shared<spdlog::logger>(
        "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
    auto b = Broker::Open(absl::StrCat(cluster_->url(), "?", kFastGroup,
                                       "&partition.assignment.strategy=cooperative-sticky"),
                          options);
    ASSERT_TRUE(b.ok()) << b.status();
    auto sub = b->subscriber("coop-readers", Opts("coop"));
    ASSERT_TRUE(sub.ok()) << sub.status();
    sub->Shutdown();
  }  // the broker and its librdkafka threads are gone before the log is read
  const std::string text = log.str();
  const bool warned =
      text.find("cooperative rebalances delivered acked messages again") != std::string::npos;
  EXPECT_EQ(warned, rd_kafka_version() < 0x020c0000)
      << "librdkafka " << rd_kafka_version_str() << "; log:\n"
      << text;
  if (warned) {
    EXPECT_NE(text.find("subscription 'coop-readers'"), std::string::npos) << text;
    EXPECT_NE(text.find("scripts/librdkafka.sh"), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace unibus::kafka_internal
