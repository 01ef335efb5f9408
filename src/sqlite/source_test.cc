// The subscription source against a real file: leases, acks, expiry, fan-out,
// competing consumers, start positions, restart.
#include "sqlite/source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "sqlite/sqlite_test_util.h"
#include "sqlite/store.h"

namespace unibus::sqlite_internal {
namespace {

// Returns once a source holds `signal` beside the test (it looked, found nothing and
// took its topic's signal), and a little later, when it is waiting on it.
void WaitUntilWaiting(const std::shared_ptr<FileState::TopicSignal>& signal) {
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (signal.use_count() < 2) {
    if (absl::Now() > give_up) {
      ADD_FAILURE() << "no source took the topic's signal within 10 s";
      return;
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  absl::SleepFor(absl::Milliseconds(20));
}

class SourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_ = MakeAdmin(db_.config());
    sink_ = MakeSink(db_.config());
    ASSERT_TRUE(admin_->CreateTopic(TopicConfig{.name = "orders"}).ok());
  }
  void Subscribe(const std::string& name, StartPosition start = StartPosition::kEarliest) {
    ASSERT_TRUE(admin_->CreateSubscription({.name = name, .topic = "orders", .start = start}).ok());
  }

  TempDb db_;
  std::shared_ptr<SqliteAdmin> admin_;
  std::shared_ptr<SqliteSink> sink_;
};

TEST_F(SourceTest, PublishFetchAckKeepsOrderAndFields) {
  Subscribe("billing");
  std::vector<Message> batch = {MessageBuilder{}
                                    .data("a")
                                    .attribute("k", "v")
                                    .attribute("x", std::string("\0y", 2))
                                    .ordering_key("o-1")
                                    .build(),
                                MessageBuilder{}.data(std::string("b\0b", 3)).build()};
  auto ids = sink_->PublishBatch("orders", batch);
  ASSERT_TRUE(ids.ok()) << ids.status();
  ASSERT_EQ(ids->size(), 2u);
  auto source = MakeSource(db_.config(), "billing", "orders");
  auto got = FetchN(*source, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].message.data, "a");
  EXPECT_EQ(got[0].message.attributes.at("k"), "v");
  EXPECT_EQ(got[0].message.attributes.at("x"), std::string("\0y", 2));
  EXPECT_EQ(got[0].message.ordering_key, "o-1");
  EXPECT_EQ(got[0].message.id, *(*ids)[0]);
  EXPECT_EQ(got[0].message.topic, "orders");
  EXPECT_EQ(got[0].message.delivery_attempt, 1);
  EXPECT_LE(absl::Now() - got[0].message.publish_time, absl::Minutes(1));
  EXPECT_EQ(got[1].message.data, std::string("b\0b", 3));
  EXPECT_TRUE(got[1].message.attributes.empty());
  EXPECT_EQ(RawQuery(db_.path(), "SELECT count(*) FROM leases"), 2);
  ASSERT_TRUE(source->Ack(Tokens(got)).ok());
  EXPECT_EQ(RawQuery(db_.path(), "SELECT count(*) FROM leases"), 0);
  auto none = source->Fetch(10, 1 << 20, absl::Milliseconds(20));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  source->Close();
}

TEST_F(SourceTest, ABatchIsLeasedWithOneStatementAndAConsecutiveAckWithOne) {
  Subscribe("billing");
  PublishRange(*sink_, "orders", "m", 0, 100);
  auto source = MakeSource(db_.config(), "billing", "orders");
  auto got = source->Fetch(100, 1 << 20, absl::ZeroDuration());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 100u);
  EXPECT_EQ(source->lease_statements(), 1);
  EXPECT_EQ(RawQuery(db_.path(), "SELECT count(*) FROM leases"), 100);
  // Acked in any order: still one run of consecutive sequence numbers.
  std::vector<std::string> tokens = Tokens(*got);
  std::reverse(tokens.begin(), tokens.end());
  ASSERT_TRUE(source->Ack(tokens).ok());
  EXPECT_EQ(source->lease_statements(), 2);
  EXPECT_EQ(RawQuery(db_.path(), "SELECT count(*) FROM leases"), 0);

  // Every other message acked: five runs, and only those five leases go.
  PublishRange(*sink_, "orders", "n", 0, 10);
  auto next = source->Fetch(10, 1 << 20, absl::ZeroDuration());
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_EQ(next->size(), 10u);
  EXPECT_EQ(source->lease_statements(), 3);
  std::vector<std::string> even;
  std::string odd_ids;
  for (std::size_t i = 0; i < next->size(); ++i) {
    if (i % 2 == 0) {
      even.push_back((*next)[i].token);
    } else {
      absl::StrAppend(&odd_ids, odd_ids.empty() ? "" : ",", (*next)[i].message.id);
    }
  }
  ASSERT_TRUE(source->Ack(even).ok());
  EXPECT_EQ(source->lease_statements(), 8);
  EXPECT_EQ(RawQuery(db_.path(), "SELECT count(*) FROM leases"), 5);
  EXPECT_EQ(RawQuery(db_.path(),
                     absl::StrCat("SELECT count(*) FROM leases WHERE seq IN (", odd_ids, ")")),
            5);
  // A bad token among good ones: the good ones are acked, the call says which was bad.
  std::vector<std::string> odd;
  for (std::size_t i = 1; i < next->size(); i += 2) odd.push_back((*next)[i].token);
  odd.push_back("not-a-token");
  auto s = source->Ack(odd);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(RawQuery(db_.path(), "SELECT count(*) FROM leases"), 0);
  source->Close();
}

TEST_F(SourceTest, FetchRespectsMaxMessagesAndBytes) {
  Subscribe("billing");
  PublishRange(*sink_, "orders", "m", 0, 10);
  auto source = MakeSource(db_.config(), "billing", "orders");
  auto three = source->Fetch(3, 1 << 20, absl::ZeroDuration());
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(Data(*three), (std::vector<std::string>{"m0", "m1", "m2"}));
  // "m3" is 2 bytes: a 3-byte budget takes two messages, never zero.
  auto two = source->Fetch(10, 3, absl::ZeroDuration());
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(Data(*two), (std::vector<std::string>{"m3", "m4"}));
  auto rest = source->Fetch(10, 1, absl::ZeroDuration());
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->size(), 1u);
}

TEST_F(SourceTest, ExpiredLeaseIsRedeliveredToAnotherConsumerWithAttemptPlusOne) {
  Subscribe("billing");
  PublishRange(*sink_, "orders", "m", 0, 3);
  auto crashed = MakeSource(db_.config(), "billing", "orders", absl::Milliseconds(100));
  auto first = FetchN(*crashed, 3);
  ASSERT_EQ(first.size(), 3u);
  // `crashed` never acks. Another consumer gets them once the lease has expired.
  auto other = MakeSource(db_.config(), "billing", "orders", absl::Seconds(30));
  std::vector<core_internal::Delivery> again;
  const absl::Time end = absl::Now() + absl::Seconds(20);
  while (again.size() < 3 && absl::Now() < end) {
    auto got = other->Fetch(10, 1 << 20, absl::Milliseconds(100));
    ASSERT_TRUE(got.ok()) << got.status();
    for (auto& d : *got) again.push_back(std::move(d));
  }
  ASSERT_EQ(Data(again), Data(first));
  for (const auto& d : again) EXPECT_EQ(d.message.delivery_attempt, 2);
  // The stale consumer's release or extension must not touch the new leases.
  ASSERT_TRUE(crashed->Release(Tokens(first)).ok());
  ASSERT_TRUE(crashed->ExtendLeases(Tokens(first), absl::Hours(1)).ok());
  EXPECT_EQ(RawQuery(db_.path(), "SELECT count(*) FROM leases WHERE deadline_ms = 0"), 0);
  ASSERT_TRUE(other->Ack(Tokens(again)).ok());
  EXPECT_EQ(RawQuery(db_.path(), "SELECT count(*) FROM leases"), 0);
}

TEST_F(SourceTest, ExtendedLeaseIsNotRedelivered) {
  Subscribe("billing");
  PublishRange(*sink_, "orders", "m", 0, 1);
  auto holder = MakeSource(db_.config(), "billing", "orders", absl::Milliseconds(100));
  auto got = FetchN(*holder, 1);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(holder->ExtendLeases(Tokens(got), absl::Hours(1)).ok());
  EXPECT_EQ(RawQuery(db_.path(), absl::StrCat("SELECT count(*) FROM leases WHERE deadline_ms > ",
                                              NowMillis() + 3'000'000)),
            1);
  auto other = MakeSource(db_.config(), "billing", "orders");
  auto none = other->Fetch(10, 1 << 20, absl::Milliseconds(200));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(SourceTest, ReleasedLeaseGoesToTheNextFetch) {
  Subscribe("billing");
  PublishRange(*sink_, "orders", "m", 0, 2);
  auto a = MakeSource(db_.config(), "billing", "orders");
  auto got = FetchN(*a, 2);
  ASSERT_EQ(got.size(), 2u);
  ASSERT_TRUE(a->Release({got[1].token}).ok());
  ASSERT_TRUE(a->Ack({got[0].token}).ok());
  auto b = MakeSource(db_.config(), "billing", "orders");
  auto again = FetchN(*b, 1, absl::Seconds(5));
  ASSERT_EQ(Data(again), std::vector<std::string>{"m1"});
  EXPECT_EQ(again[0].message.delivery_attempt, 2);
}

TEST_F(SourceTest, SubscriptionsFanOutAndHaveTheirOwnCursor) {
  Subscribe("billing");
  Subscribe("audit");
  PublishRange(*sink_, "orders", "m", 0, 5);
  auto billing = MakeSource(db_.config(), "billing", "orders");
  auto audit = MakeSource(db_.config(), "audit", "orders");
  auto b = FetchN(*billing, 5);
  ASSERT_TRUE(billing->Ack(Tokens(b)).ok());
  auto a = FetchN(*audit, 5);
  EXPECT_EQ(Data(a), Data(b));
  EXPECT_EQ(a.size(), 5u);
}

TEST_F(SourceTest, CompetingConsumersNeverShareAnUnexpiredMessage) {
  Subscribe("billing");
  constexpr int kMessages = 2000;
  for (int i = 0; i < kMessages; i += 100) PublishRange(*sink_, "orders", "m", i, i + 100);
  std::vector<std::shared_ptr<SqliteSource>> consumers;
  for (int i = 0; i < 3; ++i) consumers.push_back(MakeSource(db_.config(), "billing", "orders"));
  std::mutex mu;
  std::multiset<std::string> seen;
  std::vector<std::thread> threads;
  for (auto& c : consumers) {
    threads.emplace_back([&, c] {
      for (;;) {
        auto got = c->Fetch(37, 1 << 20, absl::Milliseconds(50));
        ASSERT_TRUE(got.ok()) << got.status();
        if (got->empty()) return;
        {
          std::lock_guard<std::mutex> lock(mu);
          for (auto& d : *got) seen.insert(d.message.data);
        }
        ASSERT_TRUE(c->Ack(Tokens(*got)).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kMessages));
  std::set<std::string> distinct(seen.begin(), seen.end());
  EXPECT_EQ(distinct.size(), seen.size()) << "a message was handed to two consumers";
}

TEST_F(SourceTest, StartEarliestAndLatest) {
  PublishRange(*sink_, "orders", "old", 0, 3);
  Subscribe("from-start", StartPosition::kEarliest);
  Subscribe("from-now", StartPosition::kLatest);
  PublishRange(*sink_, "orders", "new", 0, 1);
  auto early =
      FetchN(*MakeSource(db_.config(), "from-start", "orders"), 10, absl::Milliseconds(50));
  EXPECT_EQ(Data(early), (std::vector<std::string>{"old0", "old1", "old2", "new0"}));
  auto late = FetchN(*MakeSource(db_.config(), "from-now", "orders"), 10, absl::Milliseconds(50));
  EXPECT_EQ(Data(late), std::vector<std::string>{"new0"});
}

TEST_F(SourceTest, FetchWakesWhenAnotherConnectionPublishes) {
  Subscribe("billing");
  auto source = MakeSource(db_.config(), "billing", "orders");
  std::thread publisher([&] {
    absl::SleepFor(absl::Milliseconds(50));
    PublishRange(*sink_, "orders", "m", 0, 1);
  });
  // The wait is long; the publish ends it.
  auto got = source->Fetch(10, 1 << 20, absl::Seconds(30));
  publisher.join();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(Data(*got), std::vector<std::string>{"m0"});
}

TEST_F(SourceTest, APublishWakesOnlyTheFetchesOfItsTopic) {
  // A waiting Fetch sleeps on its topic's signal: publishes to other topics of the
  // file leave it asleep (before, every commit woke every subscriber's fetch thread).
  ASSERT_TRUE(admin_->CreateTopic(TopicConfig{.name = "audit"}).ok());
  Subscribe("billing");
  const std::int64_t orders = RawQuery(db_.path(), "SELECT id FROM topics WHERE name = 'orders'");
  const std::int64_t audit = RawQuery(db_.path(), "SELECT id FROM topics WHERE name = 'audit'");
  std::shared_ptr<FileState> file = FileStateFor(db_.path());
  auto orders_signal = file->SignalFor(orders);
  auto audit_signal = file->SignalFor(audit);
  EXPECT_NE(orders_signal, audit_signal);
  EXPECT_EQ(file->SignalFor(orders), orders_signal) << "one signal per topic, shared";
  auto source = MakeSource(db_.config(), "billing", "orders");
  std::thread publisher([&] {
    WaitUntilWaiting(orders_signal);
    const std::uint64_t before = orders_signal->commits.load();
    PublishRange(*sink_, "audit", "a", 0, 3);
    EXPECT_EQ(orders_signal->commits.load(), before) << "a publish to 'audit' woke 'orders'";
    EXPECT_EQ(audit_signal->commits.load(), 1u);
    PublishRange(*sink_, "orders", "m", 0, 1);
    EXPECT_EQ(orders_signal->commits.load(), before + 1);
  });
  auto got = source->Fetch(10, 1 << 20, absl::Seconds(30));
  publisher.join();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(Data(*got), std::vector<std::string>{"m0"});
}

// Deleting a subscription (or its topic) wakes its waiting fetches, which end with
// NotFound at once rather than at their next lease scan. (Before, a subscription
// deleted and re-created on another topic kept its fetch asleep until that scan.)
TEST_F(SourceTest, DeletingTheSubscriptionEndsItsWaitingFetch) {
  Subscribe("billing");
  const std::int64_t orders = RawQuery(db_.path(), "SELECT id FROM topics WHERE name = 'orders'");
  auto signal = FileStateFor(db_.path())->SignalFor(orders);
  auto source = MakeSource(db_.config(), "billing", "orders");
  std::thread admin([&] {
    WaitUntilWaiting(signal);
    const std::uint64_t before = signal->commits.load();
    EXPECT_TRUE(admin_->DeleteSubscription("billing").ok());
    EXPECT_EQ(signal->commits.load(), before + 1) << "the delete did not wake the topic's fetches";
  });
  auto got = source->Fetch(10, 1 << 20, absl::Seconds(30));
  admin.join();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound) << got.status();
}

// A released lease (a nack) is found by a scan of the leases: the release is signalled
// to the topic's fetches as one, so that they scan at once rather than at their next
// periodic scan (50 ms). Checked here: the signal and the redelivery; that the woken
// fetch scans at once is not (a periodic scan may come first on a loaded machine).
TEST_F(SourceTest, AReleaseWakesACompetingFetch) {
  Subscribe("billing");
  PublishRange(*sink_, "orders", "m", 0, 1);
  const std::int64_t orders = RawQuery(db_.path(), "SELECT id FROM topics WHERE name = 'orders'");
  auto signal = FileStateFor(db_.path())->SignalFor(orders);
  auto a = MakeSource(db_.config(), "billing", "orders");
  auto got = FetchN(*a, 1);
  ASSERT_EQ(got.size(), 1u);
  auto b = MakeSource(db_.config(), "billing", "orders");
  std::thread releaser([&] {
    WaitUntilWaiting(signal);  // b waits (a found its message at once)
    EXPECT_TRUE(a->Release({got[0].token}).ok());
    EXPECT_EQ(signal->releases.load(), 1u) << "the release was not signalled as one";
  });
  auto again = b->Fetch(10, 1 << 20, absl::Seconds(30));
  releaser.join();
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(Data(*again), std::vector<std::string>{"m0"});
  EXPECT_EQ((*again)[0].message.delivery_attempt, 2);
}

TEST_F(SourceTest, CloseEndsFetchAtOnce) {
  Subscribe("billing");
  auto source = MakeSource(db_.config(), "billing", "orders");
  std::thread closer([&] {
    absl::SleepFor(absl::Milliseconds(50));
    source->Close();
  });
  auto got = source->Fetch(10, 1 << 20, absl::Seconds(30));
  closer.join();
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
}

TEST_F(SourceTest, RestartLosesNothing) {
  Subscribe("billing");
  PublishRange(*sink_, "orders", "m", 0, 100);
  std::set<std::string> acked;
  {
    auto source = MakeSource(db_.config(), "billing", "orders", absl::Milliseconds(300));
    auto got = FetchN(*source, 60);
    ASSERT_EQ(got.size(), 60u);
    std::vector<core_internal::Delivery> half(got.begin(), got.begin() + 30);
    ASSERT_TRUE(source->Ack(Tokens(half)).ok());
    for (auto& d : half) acked.insert(d.message.data);
  }
  admin_.reset();
  sink_.reset();  // every connection closed: the file alone holds the state
  auto source = MakeSource(db_.config(), "billing", "orders");
  std::set<std::string> after;
  const absl::Time end = absl::Now() + absl::Seconds(20);
  while (after.size() < 70 && absl::Now() < end) {
    auto got = source->Fetch(100, 1 << 20, absl::Milliseconds(100));
    ASSERT_TRUE(got.ok());
    for (auto& d : *got) {
      EXPECT_FALSE(acked.count(d.message.data))
          << d.message.data << " was acked before the restart";
      after.insert(d.message.data);
    }
    ASSERT_TRUE(source->Ack(Tokens(*got)).ok());
  }
  EXPECT_EQ(after.size(), 70u);
}

TEST_F(SourceTest, DeletedSubscriptionIsNotFound) {
  Subscribe("billing");
  auto source = MakeSource(db_.config(), "billing", "orders");
  ASSERT_TRUE(admin_->DeleteSubscription("billing").ok());
  auto got = source->Fetch(10, 1 << 20, absl::ZeroDuration());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound) << got.status();
}

}  // namespace
}  // namespace unibus::sqlite_internal
