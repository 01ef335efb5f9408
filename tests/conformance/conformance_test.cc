// The conformance suite: every test runs against every backend env registered in
// tests/conformance/*_env.cc. Tier 0: publish/receive, attributes, ack, admin, errors.
// Tier 1: nack and redelivery, dead letter, out-of-order acks, fan-out vs competing
// consumers, per-key order, flow control, restart.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "conformance/backend.h"
#include "conformance/checker.h"
#include "conformance/drain.h"
#include "conformance/env_test.h"
#include "conformance/join_midstream.h"

namespace unibus::conformance {
namespace {

class Conformance : public EnvTest {
 protected:
  Conformance() : EnvTest("") {}

  Subscriber Sub(const std::string& name, const SubscriberOptions& o) {
    auto s = broker_->subscriber(name, o);
    EXPECT_TRUE(s.ok()) << s.status();
    return *s;
  }

  // Publishes n messages "0".."n-1" (key from `key_of`), returns their data in order.
  std::vector<std::string> PublishN(const std::string& topic, int n,
                                    const std::function<std::string(int)>& key_of = nullptr,
                                    Checker* checker = nullptr) {
    auto p = broker_->publisher(topic);
    EXPECT_TRUE(p.ok()) << p.status();
    std::vector<std::string> data;
    std::vector<PublishFuture> fs;
    for (int i = 0; i < n; ++i) {
      auto b = MessageBuilder{}.data(absl::StrCat(topic, "/", i)).attribute("seq", absl::StrCat(i));
      std::string key = key_of ? key_of(i) : "";
      if (!key.empty()) b.ordering_key(key);
      data.push_back(absl::StrCat(topic, "/", i));
      if (checker) checker->Expect(data.back(), key);
      fs.push_back(p->Publish(std::move(b).build()));
    }
    EXPECT_TRUE(p->Flush().ok());
    for (auto& f : fs) EXPECT_TRUE(f.get().ok()) << f.get().status();
    return data;
  }
};

// ---- Tier 0 ----

TEST_P(Conformance, PublishAndReceiveWithAttributes) {
  auto topic = MakeTopic();
  auto sub = Sub(Name("sub"), Opts(topic));
  Checker checker;
  const absl::Time before = absl::Now() - absl::Seconds(5);
  PublishN(topic, 50, nullptr, &checker);
  const absl::Time end = absl::Now() + absl::Seconds(30);
  while (checker.distinct() < 50 && absl::Now() < end) {
    auto got = sub.Pull(100, absl::Milliseconds(200));
    ASSERT_TRUE(got.ok()) << got.status();
    for (auto& m : *got) {
      const Message& msg = m.message;
      EXPECT_FALSE(msg.id.empty());
      EXPECT_GE(msg.publish_time, before);
      EXPECT_EQ(msg.delivery_attempt, 1);
      EXPECT_EQ(msg.topic, topic);
      EXPECT_EQ(msg.data, absl::StrCat(topic, "/", msg.attribute("seq")));
      checker.Receive(msg.data);
      std::move(m.ack).ack();
    }
  }
  auto r = checker.Report();
  EXPECT_EQ(r.lost, 0);
  EXPECT_EQ(r.duplicated, 0);
  EXPECT_EQ(r.unexpected, 0);
}

TEST_P(Conformance, AckedMessagesAreNotRedelivered) {
  auto topic = MakeTopic();
  const std::string name = Name("sub");
  Checker checker;
  {
    auto sub = Sub(name, Opts(topic));
    PublishN(topic, 20, nullptr, &checker);
    DrainPull(sub, checker, 20);
    sub.Shutdown();
  }
  auto sub = Sub(name, Opts(topic));
  auto got = sub.Pull(100, absl::Seconds(2));
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty()) << got->size() << " acked message(s) came back";
}

TEST_P(Conformance, AdminTopicsAndSubscriptions) {
  Admin admin = broker_->admin();
  const std::string topic = Name("admin-topic");
  if (!caps_.admin_create_topic) {
    EXPECT_EQ(admin.CreateTopic(topic).code(), absl::StatusCode::kUnimplemented);
    return;
  }
  auto made = admin.CreateTopic(topic);
  ASSERT_TRUE(made.ok()) << made;
  EXPECT_EQ(admin.CreateTopic(topic).code(), absl::StatusCode::kAlreadyExists);
  auto topics = admin.ListTopics();
  ASSERT_TRUE(topics.ok()) << topics.status();
  EXPECT_TRUE(std::count(topics->begin(), topics->end(), topic)) << topic;
  auto info = admin.DescribeTopic(topic);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->name, topic);
  EXPECT_EQ(admin.DescribeTopic(Name("missing")).status().code(), absl::StatusCode::kNotFound);

  const std::string sub = Name("admin-sub");
  auto created = admin.CreateSubscription(SubscriptionConfig{.name = sub, .topic = topic});
  ASSERT_TRUE(created.ok()) << created;
  EXPECT_EQ(admin.CreateSubscription(SubscriptionConfig{.name = sub, .topic = topic}).code(),
            absl::StatusCode::kAlreadyExists);
  auto subs = admin.ListSubscriptions();
  ASSERT_TRUE(subs.ok()) << subs.status();
  EXPECT_TRUE(std::count(subs->begin(), subs->end(), sub));
  auto sinfo = admin.DescribeSubscription(sub);
  ASSERT_TRUE(sinfo.ok()) << sinfo.status();
  EXPECT_EQ(sinfo->topic, topic);
  ASSERT_TRUE(admin.DeleteSubscription(sub).ok());
  EXPECT_EQ(admin.DescribeSubscription(sub).status().code(), absl::StatusCode::kNotFound);

  if (caps_.admin_delete_topic) {
    ASSERT_TRUE(admin.DeleteTopic(topic).ok());
    EXPECT_EQ(admin.DescribeTopic(topic).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(admin.DeleteTopic(topic).code(), absl::StatusCode::kNotFound);
  } else {
    EXPECT_EQ(admin.DeleteTopic(topic).code(), absl::StatusCode::kUnimplemented);
  }
}

TEST_P(Conformance, BadInputGetsClearErrors) {
  // A name unibus would create follows the portable rule; one it only uses need not.
  EXPECT_EQ(
      broker_->publisher("a b", PublisherOptions{.create_topic_if_missing = true}).status().code(),
      absl::StatusCode::kInvalidArgument);
  // On Kafka a subscriber joins a consumer group of any name, as every Kafka client does.
  if (caps_.backend != "kafka") {
    EXPECT_EQ(broker_->subscriber("x", Opts(MakeTopic())).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(broker_->publisher("").status().code(), absl::StatusCode::kInvalidArgument);
  auto missing = broker_->publisher(Name("no-such-topic"));
  if (missing.ok()) {
    // Backends that resolve topics lazily report it on the first publish.
    auto r = missing->Publish(MessageBuilder{}.data("x").build()).get();
    EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  } else {
    EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  }
  auto sub = broker_->subscriber(Name("no-such-sub"));
  EXPECT_EQ(sub.status().code(), absl::StatusCode::kNotFound) << sub.status();

  auto topic = MakeTopic();
  auto p = broker_->publisher(topic);
  ASSERT_TRUE(p.ok());
  auto big =
      p->Publish(MessageBuilder{}.data(std::string(10 * 1024 * 1024 + 1, 'x')).build()).get();
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument) << big.status();
}

TEST_P(Conformance, SentMessagesAreStoredOnceFlushReturnsOk) {
  // Publisher::Send: no result per message; refusals at once, later failures at Flush.
  auto topic = MakeTopic();
  auto sub = Sub(Name("sub"), Opts(topic));
  auto p = broker_->publisher(topic);
  ASSERT_TRUE(p.ok()) << p.status();
  Checker checker;
  for (int i = 0; i < 50; ++i) {
    // One payload past 4 KiB, which the Kafka publisher reads in place, not copied.
    const std::string data = absl::StrCat(topic, "/", i, i == 7 ? std::string(8192, 'p') : "");
    const std::string key = i % 2 == 0 ? "even" : "";
    checker.Expect(data, key);
    auto b = MessageBuilder{}.data(data).attribute("seq", absl::StrCat(i));
    if (!key.empty()) b.ordering_key(key);
    ASSERT_TRUE(p->Send(std::move(b).build()).ok());
  }
  ASSERT_TRUE(p->Flush().ok());
  DrainPull(sub, checker, 50);
  auto r = checker.Report();
  EXPECT_EQ(r.lost, 0);
  EXPECT_EQ(r.duplicated, 0);
  EXPECT_EQ(r.unexpected, 0);

  EXPECT_EQ(p->Send(Message{}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      p->Send(MessageBuilder{}.data(std::string(caps_.max_message_bytes + 1, 'x')).build()).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(p->Flush().ok()) << "a refused Send is not a failure for Flush";

  auto missing = broker_->publisher(Name("no-such-topic"));
  if (missing.ok()) {
    // Backends that resolve topics lazily: the Send is queued, its failure is Flush's.
    EXPECT_TRUE(missing->Send(MessageBuilder{}.data("x").build()).ok());
    absl::Status s = missing->Flush();
    EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
    EXPECT_TRUE(missing->Flush().ok()) << "Flush reports a failure once";
  }

  p->Shutdown();
  EXPECT_EQ(p->Send(MessageBuilder{}.data("late").build()).code(),
            absl::StatusCode::kFailedPrecondition);
}

// ---- Tier 1 ----

TEST_P(Conformance, NackRedeliversWithBackoffAndCountsAttempts) {
  auto topic = MakeTopic();
  auto sub = Sub(Name("sub"), Opts(topic));
  PublishN(topic, 1);
  std::vector<int> attempts;
  absl::Time nacked_at;
  const absl::Time end = absl::Now() + absl::Seconds(30);
  while (attempts.size() < 2 && absl::Now() < end) {
    auto got = sub.Pull(10, absl::Milliseconds(200));
    ASSERT_TRUE(got.ok());
    for (auto& m : *got) {
      attempts.push_back(m.message.delivery_attempt);
      if (attempts.size() == 1) {
        nacked_at = absl::Now();
        std::move(m.ack).nack("first try fails");
      } else {
        EXPECT_GE(absl::Now() - nacked_at, absl::Milliseconds(9));  // min_backoff
        std::move(m.ack).ack();
      }
    }
  }
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0], 1);
  EXPECT_EQ(attempts[1], 2);
}

TEST_P(Conformance, DeadLettersAfterMaxAttempts) {
  auto topic = MakeTopic();
  const std::string name = Name("sub");
  SubscriberOptions o = Opts(topic);
  o.dead_letter_topic = Name("dlq");
  if (!caps_.admin_create_topic) {
    ASSERT_TRUE(env_->CreateTopic(*broker_, o.dead_letter_topic, 1).ok());
  }
  // Read the dead-letter topic from the beginning through its own subscription.
  SubscriberOptions dlo = Opts(o.dead_letter_topic);
  if (caps_.admin_create_topic) {
    auto s = broker_->admin().CreateTopic(o.dead_letter_topic);
    ASSERT_TRUE(s.ok() || absl::IsAlreadyExists(s)) << s;
  }
  auto dead = Sub(Name("dlq-reader"), dlo);
  auto sub = Sub(name, o);
  PublishN(topic, 2);
  int deliveries = 0, acked = 0;
  const absl::Time end = absl::Now() + absl::Seconds(30);
  std::vector<Message> dead_letters;
  // Until both have happened: messages without an ordering key have no order, so
  // seq 1 may be delivered after seq 0 is dead-lettered.
  while ((dead_letters.empty() || acked == 0) && absl::Now() < end) {
    auto got = sub.Pull(10, absl::Milliseconds(100));
    ASSERT_TRUE(got.ok());
    for (auto& m : *got) {
      if (m.message.attribute("seq") == "0") {
        ++deliveries;
        std::move(m.ack).nack("poison message");
      } else {
        ++acked;
        std::move(m.ack).ack();
      }
    }
    auto d = dead.Pull(10, absl::Milliseconds(50));
    ASSERT_TRUE(d.ok());
    for (auto& m : *d) {
      dead_letters.push_back(m.message);
      std::move(m.ack).ack();
    }
  }
  ASSERT_EQ(dead_letters.size(), 1u);
  EXPECT_EQ(deliveries, 3);
  EXPECT_EQ(acked, 1);
  const Message& d = dead_letters[0];
  EXPECT_EQ(d.data, absl::StrCat(topic, "/0"));
  EXPECT_EQ(d.attribute("seq"), "0");
  EXPECT_EQ(d.attribute(kDeadLetterReason), "poison message");
  EXPECT_EQ(d.attribute(kDeadLetterSourceTopic), topic);
  EXPECT_EQ(d.attribute(kDeadLetterAttempts), "3");
  // The source no longer delivers it.
  auto again = sub.Pull(10, absl::Milliseconds(500));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  EXPECT_EQ(sub.stats().dead_lettered, 1);
}

TEST_P(Conformance, OutOfOrderAcksNeverLoseTheUnacked) {
  auto topic = MakeTopic();
  const std::string name = Name("sub");
  auto data = PublishN(topic, 10);
  std::vector<PulledMessage> held;
  {
    auto sub = Sub(name, Opts(topic));
    const absl::Time end = absl::Now() + absl::Seconds(30);
    while (held.size() < 10 && absl::Now() < end) {
      auto got = sub.Pull(10, absl::Milliseconds(200));
      ASSERT_TRUE(got.ok());
      for (auto& m : *got) held.push_back(std::move(m));
    }
    ASSERT_EQ(held.size(), 10u);
    std::sort(held.begin(), held.end(), [](const PulledMessage& a, const PulledMessage& b) {
      return std::stoi(a.message.attribute("seq")) < std::stoi(b.message.attribute("seq"));
    });
    // Ack everything but #3, newest first, from another thread.
    std::thread acker([&] {
      for (int i = 9; i >= 0; --i) {
        if (i != 3) std::move(held[i].ack).ack();
      }
    });
    acker.join();
    sub.Shutdown();  // #3 unsettled: goes back to the broker
  }
  auto sub = Sub(name, Opts(topic));
  Checker checker;
  for (auto& d : data) checker.Expect(d);
  const absl::Time end = absl::Now() + absl::Seconds(30);
  bool got3 = false;
  while (!got3 && absl::Now() < end) {
    auto got = sub.Pull(10, absl::Milliseconds(200));
    ASSERT_TRUE(got.ok());
    for (auto& m : *got) {
      if (m.message.attribute("seq") == "3") got3 = true;
      checker.Receive(m.message.data);
      std::move(m.ack).ack();
    }
  }
  EXPECT_TRUE(got3) << "the unacked message was lost";
  auto extra = sub.Pull(10, absl::Milliseconds(500));
  ASSERT_TRUE(extra.ok());
  for (auto& m : *extra) checker.Receive(m.message.data);
  EXPECT_EQ(checker.Report().duplicated, 0);
  EXPECT_EQ(checker.distinct(), 1) << "acked messages were redelivered";
}

TEST_P(Conformance, FanOutAcrossSubscriptionsAndCompetingConsumersWithinOne) {
  auto topic = MakeTopic(caps_.partitions ? 4 : 1);
  const std::string shared = Name("shared");
  auto a = Sub(Name("fan-a"), Opts(topic));
  auto b = Sub(Name("fan-b"), Opts(topic));
  auto c1 = Sub(shared, Opts(topic));
  auto c2 = Sub(shared, Opts(topic));
  Checker ca, cb, cshared;
  std::mutex mu;
  std::map<int, int> per_consumer;
  auto run = [&](Subscriber& s, Checker& ch, int who) {
    return s.Subscribe([&, who](Message m, AckHandler h) {
      ch.Receive(m.data);
      {
        std::lock_guard<std::mutex> lock(mu);
        ++per_consumer[who];
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      std::move(h).ack();
    });
  };
  auto sa = run(a, ca, 0);
  auto sb = run(b, cb, 1);
  auto s1 = run(c1, cshared, 2);
  auto s2 = run(c2, cshared, 3);
  ASSERT_TRUE(sa.ok() && sb.ok() && s1.ok() && s2.ok());
  const int n = 400;
  auto data = PublishN(topic, n, [](int i) { return absl::StrCat("k", i % 16); });
  for (auto& d : data) {
    ca.Expect(d);
    cb.Expect(d);
    cshared.Expect(d);
  }
  const absl::Time end = absl::Now() + absl::Seconds(60);
  while ((ca.distinct() < n || cb.distinct() < n || cshared.distinct() < n) && absl::Now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  sa->Stop();
  sb->Stop();
  s1->Stop();
  s2->Stop();
  EXPECT_EQ(ca.Report().lost, 0);
  EXPECT_EQ(cb.Report().lost, 0);
  EXPECT_EQ(cshared.Report().lost, 0);
  EXPECT_EQ(ca.Report().duplicated, 0);
  EXPECT_EQ(cshared.Report().duplicated, 0) << "competing consumers got the same message";
  EXPECT_EQ(per_consumer[0], n);
  EXPECT_EQ(per_consumer[2] + per_consumer[3], n);
}

// A second consumer of a subscription joins while the first is busy: the messages
// the first holds (in its handlers or queue) are not delivered again, on Kafka
// neither to the newcomer nor to the first member after the rebalance.
TEST_P(Conformance, ACompetingConsumerJoiningMidStreamGetsNothingTwice) {
  auto topic = MakeTopic(caps_.partitions ? 4 : 1);
  const std::string shared = Name("shared");
  const int n = 600;
  Checker checker;
  auto data = PublishN(topic, n, [](int i) { return absl::StrCat("k", i % 16); });
  for (auto& d : data) checker.Expect(d);
  SubscriberOptions o = Opts(topic);
  o.max_outstanding_messages = 40;  // a rebalance finds up to 40 handed out
  auto c1 = Sub(shared, o);
  JoinMidStream(
      c1, [&]() -> absl::StatusOr<Subscriber> { return Sub(shared, o); }, checker, n, 40);
  auto r = checker.Report();
  EXPECT_EQ(r.lost, 0);
  EXPECT_EQ(r.duplicated, 0) << "messages handed out before the second consumer joined came again";
}

TEST_P(Conformance, PerKeyOrderHoldsUnderNacksAndParallelism) {
  if (!caps_.ordering) {
    GTEST_SKIP() << GetParam() << " declares no ordering support";
  }
  auto topic = MakeTopic(caps_.partitions ? 3 : 1);
  SubscriberOptions o = Opts(topic);
  o.concurrency = 4;
  auto sub = Sub(Name("sub"), o);
  Checker checker;
  std::mutex mu;
  std::map<std::string, std::vector<int>> seen;  // key -> seq of first-time deliveries
  std::set<std::string> nacked;
  std::atomic<int> active{0}, max_active{0};
  auto session = sub.Subscribe([&](Message m, AckHandler h) {
    int a = ++active;
    int prev = max_active.load();
    while (a > prev && !max_active.compare_exchange_weak(prev, a)) {
    }
    const int seq = std::stoi(m.attribute("seq"));
    bool nack = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (seq % 7 == 0 && !nacked.count(m.data)) {
        nacked.insert(m.data);
        nack = true;
      } else {
        seen[m.ordering_key].push_back(seq);
        checker.Receive(m.data);
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(300));
    --active;
    if (nack)
      std::move(h).nack("retry once");
    else
      std::move(h).ack();
  });
  ASSERT_TRUE(session.ok());
  const int n = 300;
  PublishN(
      topic, n, [](int i) { return absl::StrCat("key-", i % 5); }, &checker);
  const absl::Time end = absl::Now() + absl::Seconds(60);
  while (checker.distinct() < n && absl::Now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  session->Stop();
  auto r = checker.Report();
  EXPECT_EQ(r.lost, 0);
  EXPECT_EQ(r.reordered, 0);
  for (auto& [key, seqs] : seen) {
    EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end())) << key;
  }
  EXPECT_GT(max_active.load(), 1) << "different keys should be handled in parallel";
}

TEST_P(Conformance, FlowControlBoundsUnackedMessages) {
  auto topic = MakeTopic();
  SubscriberOptions o = Opts(topic);
  o.max_outstanding_messages = 5;
  o.concurrency = 8;
  auto sub = Sub(Name("sub"), o);
  std::mutex mu;
  std::vector<AckHandler> held;
  int max_held = 0;
  std::atomic<int> total{0};
  auto session = sub.Subscribe([&](Message, AckHandler h) {
    std::lock_guard<std::mutex> lock(mu);
    held.push_back(std::move(h));
    max_held = std::max(max_held, static_cast<int>(held.size()));
    ++total;
  });
  ASSERT_TRUE(session.ok());
  PublishN(topic, 30);
  const absl::Time end = absl::Now() + absl::Seconds(60);
  while (total.load() < 30 && absl::Now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::vector<AckHandler> batch;
    {
      std::lock_guard<std::mutex> lock(mu);
      EXPECT_LE(held.size(), 5u);
      batch.swap(held);
    }
    for (auto& h : batch) std::move(h).ack();
  }
  session->Stop();
  EXPECT_EQ(total.load(), 30);
  EXPECT_LE(max_held, 5);
}

TEST_P(Conformance, RestartLosesNothing) {
  auto topic = MakeTopic();
  const std::string name = Name("sub");
  Checker checker;
  {
    auto sub = Sub(name, Opts(topic));
    PublishN(topic, 200, nullptr, &checker);
    DrainPull(sub, checker, 100);
    sub.Shutdown();
  }
  if (caps_.durable) {
    // A new connection to the same broker, as a restarted process would open.
    auto b = Broker::Open(broker_->url());
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::make_unique<Broker>(*b);
  }
  auto sub = Sub(name, Opts(topic));
  DrainPull(sub, checker, 200);
  auto r = checker.Report();
  EXPECT_EQ(r.lost, 0);
  EXPECT_EQ(r.unexpected, 0);
  EXPECT_LE(r.duplicated, 100) << "only messages in flight at the restart may come twice";
}

TEST_P(Conformance, StartPositionLatestSkipsOldMessages) {
  if (!caps_.start_position) GTEST_SKIP() << GetParam() << " declares no start position support";
  auto topic = MakeTopic();
  PublishN(topic, 5);
  SubscriberOptions o = Opts(topic);
  o.start = StartPosition::kLatest;
  auto sub = Sub(Name("late"), o);
  // Let the subscription settle at the end before publishing the new message.
  auto none = sub.Pull(10, absl::Milliseconds(caps_.partitions ? 3000 : 300));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto p = broker_->publisher(topic);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(p->Publish(MessageBuilder{}.data("new").build()).get().ok());
  std::vector<std::string> got;
  const absl::Time end = absl::Now() + absl::Seconds(30);
  while (got.empty() && absl::Now() < end) {
    auto r = sub.Pull(10, absl::Milliseconds(200));
    ASSERT_TRUE(r.ok());
    for (auto& m : *r) {
      got.push_back(m.message.data);
      std::move(m.ack).ack();
    }
  }
  EXPECT_EQ(got, std::vector<std::string>{"new"});
}

INSTANTIATE_TEST_SUITE_P(Backends, Conformance, ::testing::ValuesIn(EnvNames()), EnvParamName);

}  // namespace
}  // namespace unibus::conformance
