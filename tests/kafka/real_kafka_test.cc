// kafka:// against a real Apache Kafka cluster (3 brokers, KRaft, replication factor 3,
// min.insync.replicas 2) started once for this binary by scripts/kafka.sh: admin checked
// against Kafka's own command-line tools from the same jars, bad admin input, a member
// joining a cooperative-sticky group mid-stream, and a partition leader SIGKILLed under
// a running publisher and consumer group.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "conformance/join_midstream.h"
#include "kafka/real_kafka_fixture.h"
#include "spdlog/logger.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace unibus::kafka_testing {
namespace {

using conformance::Checker;

TEST_F(RealKafka, CapabilitiesSayTheServerHasAdmin) {
  Capabilities c = broker_->capabilities();
  EXPECT_TRUE(c.admin_create_topic);
  EXPECT_TRUE(c.admin_delete_topic);
  EXPECT_TRUE(c.partitions);
  EXPECT_TRUE(c.survives_broker_restart);
}

TEST_F(RealKafka, TopicsMadeByUnibusLookRightToKafkaTopicsAndTheOtherWayRound) {
  Admin admin = broker_->admin();
  ASSERT_TRUE(admin
                  .CreateTopic(TopicConfig{
                      .name = "made-by-unibus",
                      .partitions = 3,
                      .replication_factor = 3,
                      .configs = {{"cleanup.policy", "compact"}, {"retention.ms", "3600000"}}})
                  .ok());
  const std::string described = Topics({"--describe", "--topic", "made-by-unibus"});
  EXPECT_TRUE(absl::StrContains(described, "PartitionCount: 3")) << described;
  EXPECT_TRUE(absl::StrContains(described, "ReplicationFactor: 3")) << described;
  EXPECT_TRUE(absl::StrContains(described, "cleanup.policy=compact")) << described;
  EXPECT_TRUE(absl::StrContains(described, "retention.ms=3600000")) << described;

  Topics({"--create", "--topic", "made-by-kafka-topics", "--partitions", "2",
          "--replication-factor", "2", "--config", "retention.ms=7200000"});
  // The tool returns once the controller has the topic; the brokers learn it (and its
  // leaders answer for offsets) a moment later.
  auto settled = [](const absl::StatusOr<TopicInfo>& t) { return t.ok() && t->messages >= 0; };
  auto info = admin.DescribeTopic("made-by-kafka-topics");
  for (const absl::Time end = absl::Now() + absl::Seconds(15);
       !settled(info) && absl::Now() < end;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    info = admin.DescribeTopic("made-by-kafka-topics");
  }
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->partitions, 2);
  EXPECT_EQ(info->replication_factor, 2);
  EXPECT_EQ(info->retention, absl::Hours(2));
  EXPECT_EQ(info->configs["retention.ms"], "7200000");
  EXPECT_EQ(info->configs["min.insync.replicas"], "2") << "set on the brokers by the fixture";
  ASSERT_EQ(info->partition_info.size(), 2u);
  for (const PartitionInfo& p : info->partition_info) {
    EXPECT_EQ(p.replicas.size(), 2u);
    EXPECT_EQ(p.in_sync_replicas.size(), 2u);
    EXPECT_TRUE(std::count(p.replicas.begin(), p.replicas.end(), p.leader)) << p.leader;
    EXPECT_EQ(p.low_offset, 0);
    EXPECT_EQ(p.high_offset, 0);
  }
  auto list = admin.ListTopics();
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(std::count(list->begin(), list->end(), "made-by-kafka-topics"));
  EXPECT_TRUE(std::count(list->begin(), list->end(), "made-by-unibus"));

  ASSERT_TRUE(admin.DeleteTopic("made-by-unibus").ok());
  EXPECT_FALSE(absl::StrContains(Topics({"--list"}), "made-by-unibus"));
  Topics({"--delete", "--topic", "made-by-kafka-topics"});
  absl::Status gone;
  const absl::Time end = absl::Now() + absl::Seconds(10);
  do {
    gone = admin.DescribeTopic("made-by-kafka-topics").status();
  } while (gone.ok() && absl::Now() < end);
  EXPECT_EQ(gone.code(), absl::StatusCode::kNotFound) << gone;
}

TEST_F(RealKafka, BadTopicInputGetsClearErrors) {
  Admin admin = broker_->admin();
  auto rf = admin.CreateTopic(TopicConfig{.name = "too-replicated", .replication_factor = 5});
  EXPECT_EQ(rf.code(), absl::StatusCode::kInvalidArgument) << rf;
  EXPECT_TRUE(absl::StrContains(rf.message(), "replication factor 5")) << rf;
  EXPECT_TRUE(absl::StrContains(rf.message(), "3 broker")) << rf;

  auto config =
      admin.CreateTopic(TopicConfig{.name = "bad-config", .configs = {{"retention.mss", "1000"}}});
  EXPECT_EQ(config.code(), absl::StatusCode::kInvalidArgument) << config;
  EXPECT_TRUE(absl::StrContains(config.message(), "retention.mss")) << config;

  ASSERT_TRUE(admin.CreateTopic("collide.name").ok());
  auto collide = admin.CreateTopic("collide_name");
  EXPECT_EQ(collide.code(), absl::StatusCode::kInvalidArgument) << collide;
  EXPECT_TRUE(absl::StrContains(collide.message(), "collide.name")) << collide;
  EXPECT_TRUE(absl::StrContains(collide.message(), "'.' and '_'")) << collide;
  EXPECT_EQ(admin.CreateTopic("collide.name").code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(RealKafka, SubscriptionsAreConsumerGroupsKafkasToolsSee) {
  Admin admin = broker_->admin();
  ASSERT_TRUE(admin.CreateTopic(TopicConfig{.name = "grouped", .partitions = 3}).ok());
  PublishN("grouped", 0, 5);  // before the subscription: not for it
  ASSERT_TRUE(
      admin.CreateSubscription(SubscriptionConfig{.name = "readers", .topic = "grouped"}).ok());
  Checker checker;
  PublishN("grouped", 5, 12, &checker);

  // Kafka's tool sees the group with its offsets and a lag of the 7 later messages.
  EXPECT_TRUE(absl::StrContains(Groups({"--list"}), "readers"));
  const std::string described = Groups({"--describe", "--group", "readers"});
  // A header and one row per partition (Kafka 4's tool prints a blank line first).
  const std::vector<std::string> rows = absl::StrSplit(described, '\n', absl::SkipWhitespace());
  EXPECT_EQ(rows.size(), 4u) << described;
  auto info = admin.DescribeSubscription("readers");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->topic, "grouped");
  EXPECT_EQ(info->backlog, 7);
  ASSERT_EQ(info->partitions.size(), 3u);
  std::int64_t lag = 0, committed = 0;
  for (const auto& p : info->partitions) {
    lag += p.lag;
    committed += p.committed_offset;
  }
  EXPECT_EQ(lag, 7);
  EXPECT_EQ(committed, 5);
  EXPECT_TRUE(info->members.empty());

  // The first consumer attaches now and gets exactly what came after the create.
  {
    auto sub = broker_->subscriber("readers");
    ASSERT_TRUE(sub.ok()) << sub.status();
    for (const auto& d : Drain(*sub, 7, absl::Seconds(30))) checker.Receive(d);
    auto with_member = admin.DescribeSubscription("readers");
    ASSERT_TRUE(with_member.ok());
    EXPECT_EQ(with_member->members.size(), 1u);
    sub->Shutdown();
  }
  auto r = checker.Report();
  EXPECT_EQ(r.lost, 0);
  EXPECT_EQ(r.unexpected, 0) << "a message from before the subscription was delivered";
  EXPECT_EQ(r.duplicated, 0);

  // Delete removes the group and its offsets; a re-created one starts fresh.
  ASSERT_TRUE(admin.DeleteSubscription("readers").ok());
  EXPECT_FALSE(absl::StrContains(Groups({"--list"}), "readers"));
  EXPECT_EQ(admin.DeleteSubscription("readers").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(admin
                  .CreateSubscription(SubscriptionConfig{
                      .name = "readers", .topic = "grouped", .start = StartPosition::kEarliest})
                  .ok());
  auto again = admin.DescribeSubscription("readers");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->backlog, 12);

  // A group Kafka's tool made is a subscription unibus can describe.
  Groups({"--reset-offsets", "--group", "tool-made", "--topic", "grouped", "--to-earliest",
          "--execute"});
  auto tool_made = admin.DescribeSubscription("tool-made");
  ASSERT_TRUE(tool_made.ok()) << tool_made.status();
  EXPECT_EQ(tool_made->topic, "grouped");
  EXPECT_EQ(tool_made->backlog, 12);
  auto subs = admin.ListSubscriptions();
  ASSERT_TRUE(subs.ok());
  EXPECT_TRUE(std::count(subs->begin(), subs->end(), "tool-made"));
}

// A second member joins a cooperative-sticky group while the first holds 40 messages
// (in its handler or queued): the first gives two partitions back only after what it
// handed out is settled and committed (the incremental revoke), so the newcomer starts
// after it and nothing comes twice. On librdkafka's mock cluster this cannot be shown:
// the mock refuses OffsetCommit while its group is Joining (rdkafka_mock_cgrp.c), and
// the newcomer, whose SyncGroup the mock answered "Invalid request", rejoined and put it
// there in the middle of the revoke, so the revoke's commit was refused under load (CI,
// 2026-12-02). Kafka takes commits of the current generation while a rebalance is
// prepared. The debug log shows the join's revoke was incremental: 2 of the 4
// partitions (an eager one gives back all 4). UNIBUS_TEST_LOG=1 copies the log to stderr.
TEST_F(RealKafka, AMemberJoiningACooperativeGroupMidStreamGetsNothingTwice) {
  if (rd_kafka_version() < 0x020c0000) {
    // 2.0.2 (Debian 12): the leader's SyncGroup came back ILLEGAL_GENERATION and its
    // partitions went back uncommitted (40-70 of 800 redelivered in 2 of 3 runs,
    // 2026-12-02). The subscriber warns about it (kafka_test's
    // CooperativeAssignorOnAnOldLibrdkafkaIsWarnedAbout); CI links 2.12.0.
    GTEST_SKIP()
        << "librdkafka " << rd_kafka_version_str()
        << " redelivers in cooperative rebalances; this needs 2.12 (scripts/librdkafka.sh)";
  }
  Admin admin = broker_->admin();
  ASSERT_TRUE(admin.CreateTopic(TopicConfig{.name = "midstream", .partitions = 4}).ok());
  Checker checker;
  constexpr int kCount = 800;
  PublishN("midstream", 0, kCount, &checker);
  std::ostringstream log;
  conformance::MidStreamJoin join;
  {
    BrokerOptions options;
    std::vector<spdlog::sink_ptr> sinks = {std::make_shared<spdlog::sinks::ostream_sink_mt>(log)};
    if (std::getenv("UNIBUS_TEST_LOG") != nullptr) {
      sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
    }
    options.logger = std::make_shared<spdlog::logger>("test", sinks.begin(), sinks.end());
    options.logger->set_level(spdlog::level::debug);
    auto b = Broker::Open(absl::StrCat(cluster->url(), kFastGroup,
                                       "&partition.assignment.strategy=cooperative-sticky"),
                          options);
    ASSERT_TRUE(b.ok()) << b.status();
    SubscriberOptions o;
    o.topic = "midstream";
    o.start = StartPosition::kEarliest;
    o.max_outstanding_messages = 40;  // a revoke finds up to 40 handed out
    o.concurrency = 1;                // 10 ms each: ~8 s for the first member alone
    auto c1 = b->subscriber("joiners", o);
    ASSERT_TRUE(c1.ok()) << c1.status();
    join = conformance::JoinMidStream(
        *c1, [&] { return b->subscriber("joiners", o); }, checker, kCount, 40);
  }  // the broker and its librdkafka threads are gone before the log is read
  EXPECT_GT(join.by_second, 0) << "the second member never got a partition";
  // The first revoke is the join's (a later one may follow when the newcomer leaves).
  const std::string text = log.str();
  const std::size_t first_revoke = text.find("revoke of ");
  ASSERT_NE(first_revoke, std::string::npos) << "no revoke logged";
  constexpr std::string_view kIncremental = "revoke of 2 partition(s) of 'joiners'";
  EXPECT_EQ(text.compare(first_revoke, kIncremental.size(), kIncremental), 0)
      << "the rebalance was not incremental (cooperative-sticky): "
      << text.substr(first_revoke, 120);
  auto r = checker.Report();
  EXPECT_EQ(r.lost, 0);
  EXPECT_EQ(r.duplicated, 0) << "messages handed out before the rebalance came again";
  std::fprintf(stderr, "first member %d, second member %d messages\n", join.by_first,
               join.by_second);
}

// The leader of a partition is SIGKILLed while an idempotent acks=all publisher and a
// consumer group run: every publish succeeds exactly once in the log, and the
// consumer goes on after the election and loses nothing.
TEST_F(RealKafka, PartitionLeaderKilledMidStreamLosesAndDuplicatesNothing) {
  Admin admin = broker_->admin();
  ASSERT_TRUE(admin.CreateTopic(TopicConfig{.name = "failover", .partitions = 3}).ok());
  const absl::Status created =
      admin.CreateSubscription(SubscriptionConfig{.name = "failover-readers", .topic = "failover"});
  ASSERT_TRUE(created.ok()) << created;
  auto sub = broker_->subscriber("failover-readers");
  ASSERT_TRUE(sub.ok()) << sub.status();
  Checker consumed;
  auto session = sub->Subscribe([&](Message m, AckHandler h) {
    consumed.Receive(m.data);
    std::move(h).ack();
  });
  ASSERT_TRUE(session.ok());
  auto p = broker_->publisher("failover");
  ASSERT_TRUE(p.ok()) << p.status();

  const int n = 3000;
  int killed = -1;
  std::vector<PublishFuture> fs;
  for (int i = 0; i < n; ++i) {
    if (i == n / 3) {
      auto info = admin.DescribeTopic("failover");
      ASSERT_TRUE(info.ok()) << info.status();
      killed = info->partition_info[0].leader;
      std::fprintf(stderr, "SIGKILL broker %d, leader of failover-0 (pid %d)\n", killed,
                   cluster->Pid(killed));
      ASSERT_TRUE(cluster->Kill(killed).ok());
    }
    const std::string data = absl::StrCat("failover/", i);
    consumed.Expect(data);
    fs.push_back(
        p->Publish(MessageBuilder{}.data(data).ordering_key(absl::StrCat("k", i % 12)).build()));
    if (i % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  int failed = 0;
  for (auto& f : fs) {
    if (!f.get().ok()) {
      if (++failed < 5) ADD_FAILURE() << f.get().status();
    }
  }
  EXPECT_EQ(failed, 0);
  const absl::Time end = absl::Now() + absl::Seconds(90);
  while (consumed.distinct() < n && absl::Now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  session->Stop();
  sub->Shutdown();
  auto r = consumed.Report();
  EXPECT_EQ(r.lost, 0) << "the consumer stopped after the leader died";
  EXPECT_EQ(r.unexpected, 0);
  EXPECT_EQ(r.reordered, 0);
  std::fprintf(stderr, "consumer: %d delivered, %d redelivered after the failover\n", r.received,
               r.duplicated);

  // The log itself: each publish exactly once (read back by a fresh group).
  ASSERT_TRUE(
      admin
          .CreateSubscription(SubscriptionConfig{
              .name = "failover-audit", .topic = "failover", .start = StartPosition::kEarliest})
          .ok());
  auto audit = broker_->subscriber("failover-audit");
  ASSERT_TRUE(audit.ok()) << audit.status();
  Checker log;
  for (int i = 0; i < n; ++i) log.Expect(absl::StrCat("failover/", i));
  for (const auto& d : Drain(*audit, n, absl::Seconds(60))) log.Receive(d);
  audit->Shutdown();
  auto lr = log.Report();
  EXPECT_EQ(lr.lost, 0);
  EXPECT_EQ(lr.duplicated, 0) << "a publish was written twice (idempotence)";

  if (auto s = cluster->StartAll(); !s.ok()) FAIL() << s;  // the next test has three brokers again
}

}  // namespace
}  // namespace unibus::kafka_testing
