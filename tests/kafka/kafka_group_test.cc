// kafka:// consumer groups on librdkafka's mock cluster: members splitting partitions
// and taking them over, buffered messages surviving a restart, an idle subscriber
// keeping its partitions, paused partitions moved by rebalances, and the warning for
// cooperative rebalances on an old librdkafka.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "kafka/common.h"
#include "kafka/consumer_group.h"
#include "kafka/kafka_mock_fixture.h"
#include "spdlog/logger.h"
#include "spdlog/sinks/ostream_sink.h"

namespace unibus::kafka_internal {
namespace {

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
