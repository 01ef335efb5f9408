// Faults on the real 3-broker cluster of this binary, each under an idempotent acks=all
// publisher and a consumer group, with the lost/duplicate checker: consumers closed
// while their group rebalances, every broker stopped and started again, one member of
// a two-member group SIGKILLed, and a rolling restart of all three brokers.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "kafka/real_kafka_fixture.h"

extern char** environ;

namespace unibus::kafka_testing {
namespace {

using conformance::Checker;

// A consumer-group member in this process: acks every message and records what it
// acked (by message id: partition and offset), so that a delivery of something already
// acked (a redelivery the contract forbids) is counted apart from ordinary
// at-least-once repeats of unacked messages. A publish the producer wrote twice has two
// ids; ExpectLogHoldsEachOnce counts those.
class Member {
 public:
  Member(Broker& broker, const std::string& subscription, Checker* checker) : checker_(checker) {
    auto sub = broker.subscriber(subscription);
    EXPECT_TRUE(sub.ok()) << sub.status();
    if (!sub.ok()) return;
    sub_ = std::make_unique<Subscriber>(*sub);
    auto session = sub_->Subscribe([this](const Message& m, AckHandler h) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!acked_.insert(m.id).second) ++acked_redelivered_;
      }
      checker_->Receive(m.data);
      std::move(h).ack();
    });
    EXPECT_TRUE(session.ok()) << session.status();
    if (session.ok()) session_ = std::make_unique<Session>(*std::move(session));
  }
  ~Member() { Stop(); }

  void Stop() {
    if (session_) session_->Stop();
    if (sub_) sub_->Shutdown();
    session_.reset();
    sub_.reset();
  }
  int acked_redelivered() {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_redelivered_;
  }

 private:
  Checker* checker_;
  std::unique_ptr<Subscriber> sub_;
  std::unique_ptr<Session> session_;
  std::mutex mu_;
  std::set<std::string> acked_;
  int acked_redelivered_ = 0;
};

// Publishes "<topic>/<i>" for i in [from, to), 12 ordering keys, without waiting.
void PublishAsync(Publisher& p, const std::string& topic, int from, int to, Checker* checker,
                  std::vector<PublishFuture>* fs) {
  for (int i = from; i < to; ++i) {
    const std::string data = absl::StrCat(topic, "/", i);
    checker->Expect(data, absl::StrCat("k", i % 12));
    fs->push_back(
        p.Publish(MessageBuilder{}.data(data).ordering_key(absl::StrCat("k", i % 12)).build()));
  }
}

int Failed(std::vector<PublishFuture>& fs) {
  int failed = 0;
  for (auto& f : fs) {
    if (!f.get().ok() && ++failed < 5) ADD_FAILURE() << f.get().status();
  }
  return failed;
}

void WaitFor(const Checker& checker, int n, absl::Duration limit) {
  const absl::Time end = absl::Now() + limit;
  while (checker.distinct() < n && absl::Now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

class RealKafkaFaults : public RealKafka {
 protected:
  // Every publish of `topic` [0, n) is in the log exactly once: read back by a
  // fresh group from the earliest offset.
  //
  // A publish in the log twice passes only when its copies were written under
  // different epochs of one idempotent producer (read from the segments of the topic's
  // `partitions` partitions with Kafka's DumpLogSegments), and is counted. That is
  // librdkafka's idempotent producer answering an OUT_OF_ORDER_SEQUENCE from a new
  // partition leader by bumping its epoch and sending again messages the old leader
  // had written and answered NOT_LEADER for (confluentinc/librdkafka#4953, open; 2 of
  // 5,542 publishes in 1 of ~10 rolling restarts here). The bundled librdkafka no longer
  // bumps there (scripts/patches/librdkafka-no-epoch-bump-on-skipped-sequence.patch);
  // this stays for a system librdkafka and for a request that fails for good, which
  // still bumps. Copies under one epoch, or from a producer without idempotence
  // (id -1), fail.
  void ExpectLogHoldsEachOnce(const std::string& topic, int n, int partitions = 3) {
    const std::string audit_name = topic + "-audit";
    ASSERT_TRUE(broker_->admin()
                    .CreateSubscription(SubscriptionConfig{
                        .name = audit_name, .topic = topic, .start = StartPosition::kEarliest})
                    .ok());
    auto audit = broker_->subscriber(audit_name);
    ASSERT_TRUE(audit.ok()) << audit.status();
    Checker log;
    for (int i = 0; i < n; ++i) log.Expect(absl::StrCat(topic, "/", i));
    for (const auto& d : Drain(*audit, n, absl::Seconds(60))) log.Receive(d);
    audit->Shutdown();
    auto r = log.Report();
    EXPECT_EQ(r.lost, 0) << "acked publishes missing from the log of " << topic;
    if (r.duplicated == 0) return;
    int bumped = 0;
    for (const auto& [payload, copies] : CopiesOfEachRecord(topic, partitions)) {
      if (copies.size() < 2) continue;
      // One idempotent producer (id >= 0), each copy under an epoch of its own.
      std::set<int> epochs;
      bool one_producer = true;
      for (const auto& [producer, epoch] : copies) {
        epochs.insert(epoch);
        one_producer = one_producer && producer >= 0 && producer == copies[0].first;
      }
      const bool after_bump = one_producer && epochs.size() == copies.size();
      std::vector<std::string> seen;
      seen.reserve(copies.size());
      for (const auto& [producer, epoch] : copies) {
        seen.push_back(absl::StrCat(producer, "/", epoch));
      }
      EXPECT_TRUE(after_bump) << payload << " is in the log of " << topic << " " << copies.size()
                              << " times, not each under its own epoch of one idempotent "
                                 "producer (producer id/epoch: "
                              << absl::StrJoin(seen, ", ") << ")";
      if (after_bump) bumped += static_cast<int>(copies.size()) - 1;
    }
    EXPECT_GE(bumped, r.duplicated) << "copies the audit read but the segments do not hold";
    std::fprintf(stderr,
                 "%d publish(es) of %s written again after a producer epoch bump "
                 "(confluentinc/librdkafka#4953)\n",
                 bumped, topic.c_str());
  }

  // The producer (id, epoch) of every copy of every record of `topic`, by payload,
  // from the segments of partitions [0, partitions) through Kafka's DumpLogSegments:
  // per payload, the copies of the replica that holds the most (a replica restarted
  // last may still be catching up). Empty, with a failure, when the cluster's
  // directory is not ours (UNIBUS_KAFKA_TEST_CLUSTER): its segments cannot be read.
  std::map<std::string, std::vector<std::pair<std::int64_t, int>>> CopiesOfEachRecord(
      const std::string& topic, int partitions) {
    std::map<std::string, std::vector<std::pair<std::int64_t, int>>> most;
    if (cluster->dir().empty()) {
      ADD_FAILURE() << "the segments of an external cluster cannot be read, so a copy "
                       "librdkafka wrote after an epoch bump cannot be told from another";
      return most;
    }
    for (int node = 1; node <= cluster->brokers(); ++node) {
      std::vector<std::string> files;
      for (int p = 0; p < partitions; ++p) {
        const std::filesystem::path dir =
            absl::StrCat(cluster->dir(), "/cluster/node-", node, "/data/", topic, "-", p);
        std::error_code error;
        for (const auto& e : std::filesystem::directory_iterator(dir, error)) {
          if (e.path().extension() == ".log") files.push_back(e.path().string());
        }
        EXPECT_FALSE(error) << dir << ": " << error.message();
      }
      auto dump = cluster->Tool("kafka.tools.DumpLogSegments",
                                {"--print-data-log", "--files", absl::StrJoin(files, ",")});
      EXPECT_TRUE(dump.ok()) << dump.status();
      if (!dump.ok()) continue;
      // A batch line ("baseOffset: ... producerId: P producerEpoch: E ...") precedes
      // its records ("| offset: ... payload: DATA").
      std::map<std::string, std::vector<std::pair<std::int64_t, int>>> copies;
      std::int64_t producer = -1;
      int epoch = -1;
      for (absl::string_view line : absl::StrSplit(*dump, '\n')) {
        if (absl::StartsWith(line, "baseOffset:")) {
          producer = -1;
          epoch = -1;
          if (!absl::SimpleAtoi(Field(line, "producerId: "), &producer)) producer = -1;
          if (!absl::SimpleAtoi(Field(line, "producerEpoch: "), &epoch)) epoch = -1;
        } else if (const std::size_t at = line.find(" payload: ");
                   absl::StartsWith(line, "| offset:") && at != absl::string_view::npos) {
          const std::string payload(line.substr(at + 10));
          copies[payload].emplace_back(producer, epoch);
        }
      }
      for (auto& [payload, c] : copies) {
        if (c.size() > most[payload].size()) most[payload] = std::move(c);
      }
    }
    return most;
  }

  // The value after `name` in a DumpLogSegments line, up to the next space.
  static absl::string_view Field(absl::string_view line, absl::string_view name) {
    const std::size_t at = line.find(name);
    if (at == absl::string_view::npos) return {};
    absl::string_view v = line.substr(at + name.size());
    return v.substr(0, v.find(' '));
  }
};

// Consumers leave their group while it rebalances (another member just joined or
// left): each close returns. librdkafka 2.0.2 hung here in rd_kafka_assign, called
// from the rebalance callback that rd_kafka_consumer_close serves.
TEST_F(RealKafkaFaults, ConsumersClosedWhileTheirGroupRebalancesReturn) {
  Admin admin = broker_->admin();
  const std::string topic = Unique("churn"), group = topic + "-readers";
  ASSERT_TRUE(admin.CreateTopic(TopicConfig{.name = topic, .partitions = 4}).ok());
  ASSERT_TRUE(admin.CreateSubscription(SubscriptionConfig{.name = group, .topic = topic}).ok());
  Checker checker;
  auto p = broker_->publisher(topic);
  ASSERT_TRUE(p.ok()) << p.status();
  std::vector<PublishFuture> fs;
  PublishAsync(*p, topic, 0, 400, &checker, &fs);
  EXPECT_EQ(Failed(fs), 0);

  std::mt19937 rng(7);
  for (int round = 0; round < 6; ++round) {
    auto a = std::make_unique<Member>(*broker_, group, &checker);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 1500));
    auto b = std::make_unique<Member>(*broker_, group, &checker);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 700));
    for (auto* m : {a.get(), b.get()}) {
      auto closed = std::async(std::launch::async, [m] { m->Stop(); });
      if (closed.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
        std::fprintf(stderr, "round %d: a consumer's close did not return within 30 s\n", round);
        std::abort();  // a hung close cannot be joined; end with the reason
      }
    }
    EXPECT_EQ(a->acked_redelivered() + b->acked_redelivered(), 0) << "round " << round;
  }
  // Whatever the churn, the group ends with everything (at least once).
  Member last(*broker_, group, &checker);
  WaitFor(checker, 400, absl::Seconds(60));
  last.Stop();
  EXPECT_EQ(checker.Report().lost, 0);
}

// The topic is deleted under a consumer group that reads it; its members close
// anyway (librdkafka 2.0.2 could keep a lost partition referenced and never finish
// closing).
TEST_F(RealKafkaFaults, ConsumersOfADeletedTopicCloseAnyway) {
  Admin admin = broker_->admin();
  const std::string topic = Unique("doomed"), group = topic + "-readers";
  ASSERT_TRUE(admin.CreateTopic(TopicConfig{.name = topic, .partitions = 3}).ok());
  ASSERT_TRUE(admin.CreateSubscription(SubscriptionConfig{.name = group, .topic = topic}).ok());
  Checker checker;
  auto a = std::make_unique<Member>(*broker_, group, &checker);
  auto b = std::make_unique<Member>(*broker_, group, &checker);
  auto p = broker_->publisher(topic);
  ASSERT_TRUE(p.ok()) << p.status();
  std::vector<PublishFuture> fs;
  PublishAsync(*p, topic, 0, 300, &checker, &fs);
  EXPECT_EQ(Failed(fs), 0);
  WaitFor(checker, 100, absl::Seconds(30));
  ASSERT_TRUE(admin.DeleteTopic(topic).ok());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  for (auto* m : {a.get(), b.get()}) {
    const absl::Time start = absl::Now();
    auto closed = std::async(std::launch::async, [m] { m->Stop(); });
    if (closed.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      std::fprintf(stderr, "a consumer of a deleted topic did not close within 30 s\n");
      std::abort();
    }
    std::fprintf(stderr, "a consumer of the deleted topic closed in %s\n",
                 absl::FormatDuration(absl::Now() - start).c_str());
  }
}

// Every broker is stopped and started again (same data, same ports) while a
// publisher and a consumer run: the consumer resumes, nothing it acked comes again,
// nothing is lost, and each publish is in the log once.
TEST_F(RealKafkaFaults, AllBrokersStoppedAndStartedAgainLoseAndRedeliverNothing) {
  Admin admin = broker_->admin();
  const std::string topic = Unique("blackout"), group = topic + "-readers";
  ASSERT_TRUE(admin.CreateTopic(TopicConfig{.name = topic, .partitions = 3}).ok());
  ASSERT_TRUE(admin.CreateSubscription(SubscriptionConfig{.name = group, .topic = topic}).ok());
  Checker checker;
  Member member(*broker_, group, &checker);
  auto p = broker_->publisher(topic);
  ASSERT_TRUE(p.ok()) << p.status();
  std::vector<PublishFuture> fs;
  PublishAsync(*p, topic, 0, 600, &checker, &fs);
  WaitFor(checker, 300, absl::Seconds(30));
  std::fprintf(stderr, "stopping all brokers after %d deliveries\n", checker.distinct());
  if (auto s = cluster->StopAll(); !s.ok()) FAIL() << s;
  PublishAsync(*p, topic, 600, 800, &checker, &fs);  // sent when the brokers are back
  std::this_thread::sleep_for(std::chrono::seconds(2));
  if (auto s = cluster->StartAll(); !s.ok()) FAIL() << s;
  std::fprintf(stderr, "brokers started again\n");
  PublishAsync(*p, topic, 800, 1000, &checker, &fs);
  EXPECT_EQ(Failed(fs), 0);
  // Three JVMs restarting on two cores under ctest -j2 can take their group
  // coordinator past 90 s (one CI run of 078d5f0: 600 of 1000 after 90 s).
  WaitFor(checker, 1000, absl::Seconds(180));
  member.Stop();
  auto r = checker.Report();
  EXPECT_EQ(r.lost, 0) << "the consumer did not resume after the restart";
  EXPECT_EQ(r.unexpected, 0);
  EXPECT_EQ(member.acked_redelivered(), 0) << "acked messages were delivered again";
  std::fprintf(stderr, "consumer: %d delivered, %d repeats of unacked messages\n", r.received,
               r.duplicated);
  ExpectLogHoldsEachOnce(topic, 1000);
}

// One member of a two-member group (another process: `unibus consume`) is SIGKILLed
// mid-stream; the other takes over its partitions and nothing is lost.
TEST_F(RealKafkaFaults, AMemberOfATwoMemberGroupKilledTheOtherTakesOver) {
  Admin admin = broker_->admin();
  const std::string topic = Unique("pair"), group = topic + "-readers";
  ASSERT_TRUE(admin.CreateTopic(TopicConfig{.name = topic, .partitions = 4}).ok());
  ASSERT_TRUE(admin.CreateSubscription(SubscriptionConfig{.name = group, .topic = topic}).ok());
  const std::string out =
      absl::StrCat(testing::TempDir(), "/", topic, "-member-", getpid(), ".out");
  const std::string url = cluster->url() + kFastGroup;
  std::vector<std::string> args = {UNIBUS_CLI_PATH, "consume", "--url", url, "-s", group};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t child = -1;
  ASSERT_EQ(posix_spawn(&child, UNIBUS_CLI_PATH, &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);

  Checker checker;
  Member survivor(*broker_, group, &checker);
  // Both members hold partitions before the publishing starts.
  for (const absl::Time end = absl::Now() + absl::Seconds(30); absl::Now() < end;) {
    auto info = admin.DescribeSubscription(group);
    if (info.ok() && info->members.size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto p = broker_->publisher(topic);
  ASSERT_TRUE(p.ok()) << p.status();
  std::vector<PublishFuture> fs;
  PublishAsync(*p, topic, 0, 1000, &checker, &fs);
  // What the other member printed (it prints, then acks).
  auto printed = [&out, prefix = topic + "/"] {
    std::vector<std::string> ids;
    std::ifstream f(out);
    std::string line;
    while (std::getline(f, line)) {
      for (absl::string_view word : absl::StrSplit(line, absl::ByAnyChar(" \t"))) {
        if (absl::StartsWith(word, prefix)) ids.emplace_back(word);
      }
    }
    return ids;
  };
  for (const absl::Time end = absl::Now() + absl::Seconds(30);
       printed().size() < 50 && absl::Now() < end;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  waitpid(child, &status, 0);
  const std::vector<std::string> by_other = printed();
  for (const auto& id : by_other) checker.Receive(id);
  const int by_killed = static_cast<int>(by_other.size());
  EXPECT_GT(by_killed, 0) << "the killed member never held a partition";
  std::fprintf(stderr, "SIGKILLed member (pid %d) had printed and acked %d\n", child, by_killed);
  PublishAsync(*p, topic, 1000, 1500, &checker, &fs);
  EXPECT_EQ(Failed(fs), 0);
  WaitFor(checker, 1500, absl::Seconds(60));
  survivor.Stop();
  std::remove(out.c_str());
  auto r = checker.Report();
  EXPECT_EQ(r.lost, 0) << "the surviving member did not take over";
  EXPECT_EQ(r.unexpected, 0);
  EXPECT_EQ(survivor.acked_redelivered(), 0);
  std::fprintf(stderr, "survivor: %d delivered, %d repeats (unacked by the killed member)\n",
               r.received - by_killed, r.duplicated);
}

// The three brokers are restarted one after the other (each stopped gracefully and
// started again once the cluster is whole) while a publisher and a consumer run.
TEST_F(RealKafkaFaults, RollingRestartOfAllBrokersUnderLoadLosesNothing) {
  Admin admin = broker_->admin();
  const std::string topic = Unique("rolling"), group = topic + "-readers";
  ASSERT_TRUE(admin.CreateTopic(TopicConfig{.name = topic, .partitions = 3}).ok());
  ASSERT_TRUE(admin.CreateSubscription(SubscriptionConfig{.name = group, .topic = topic}).ok());
  Checker checker;
  Member member(*broker_, group, &checker);
  auto p = broker_->publisher(topic);
  ASSERT_TRUE(p.ok()) << p.status();
  std::atomic<bool> stop{false};
  std::atomic<int> published{0};
  std::vector<PublishFuture> fs;
  std::thread load([&] {
    for (int i = 0; !stop.load(); i += 5) {  // ~100 messages/s
      PublishAsync(*p, topic, i, i + 5, &checker, &fs);
      published = i + 5;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  absl::Status restarts;  // the publisher stops and is joined before any failure returns
  for (int node = 1; node <= 3 && restarts.ok(); ++node) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::fprintf(stderr, "restarting broker %d (%d published so far)\n", node, published.load());
    restarts = cluster->Stop(node);
    if (restarts.ok()) restarts = cluster->StartAll();
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  stop = true;
  load.join();
  ASSERT_TRUE(restarts.ok()) << restarts;
  const int n = published.load();
  EXPECT_EQ(Failed(fs), 0);
  WaitFor(checker, n, absl::Seconds(90));
  member.Stop();
  auto r = checker.Report();
  EXPECT_EQ(r.lost, 0);
  EXPECT_EQ(r.unexpected, 0);
  EXPECT_EQ(member.acked_redelivered(), 0);
  std::fprintf(stderr, "rolling restart: %d published, %d delivered, %d repeats\n", n, r.received,
               r.duplicated);
  ExpectLogHoldsEachOnce(topic, n);
}

}  // namespace
}  // namespace unibus::kafka_testing
