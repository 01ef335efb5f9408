#include "core/dispatcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/dead_letter.h"
#include "core/dispatcher_test_util.h"
#include "unibus/broker.h"

namespace unibus::core_internal {
namespace {

TEST(BackoffTest, DoublesFromMinToMax) {
  SubscriberOptions o;
  EXPECT_EQ(Backoff(o, 2), absl::Milliseconds(100));
  EXPECT_EQ(Backoff(o, 3), absl::Milliseconds(200));
  EXPECT_EQ(Backoff(o, 5), absl::Milliseconds(800));
  EXPECT_EQ(Backoff(o, 30), absl::Seconds(10));
}

TEST(DispatcherTest, SameKeyIsSerialAndANackedMessageKeepsItsPlace) {
  Rig rig;
  for (int i = 0; i < 20; ++i)
    rig.source->Add(MessageBuilder{}.data(absl::StrCat(i)).ordering_key("k").build());
  std::mutex mu;
  std::vector<std::string> seen;
  std::atomic<int> concurrent{0}, max_concurrent{0};
  bool nacked_once = false;
  auto session = rig.conn->Subscribe([&](Message m, AckHandler h) {
    int c = ++concurrent;
    max_concurrent = std::max(max_concurrent.load(), c);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    bool nack = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      seen.push_back(m.data);
      if (m.data == "5" && !nacked_once) nack = nacked_once = true;
    }
    --concurrent;
    if (nack)
      std::move(h).nack("try again");
    else
      std::move(h).ack();
  });
  ASSERT_TRUE(session.ok());
  ASSERT_TRUE(WaitForAcks(rig, 20));
  session->Stop();
  EXPECT_EQ(max_concurrent.load(), 1);
  std::vector<std::string> want;
  for (int i = 0; i < 20; ++i) {
    want.push_back(absl::StrCat(i));
    if (i == 5) want.push_back("5");  // redelivered before 6
  }
  EXPECT_EQ(seen, want);
}

TEST(DispatcherTest, DifferentKeysRunInParallel) {
  SubscriberOptions o = FastOptions();
  o.concurrency = 4;
  Rig rig(o);
  for (int i = 0; i < 8; ++i)
    rig.source->Add(MessageBuilder{}.data("x").ordering_key(absl::StrCat("k", i)).build());
  std::atomic<int> concurrent{0}, max_concurrent{0};
  auto session = rig.conn->Subscribe([&](Message, AckHandler h) {
    int c = ++concurrent;
    max_concurrent = std::max(max_concurrent.load(), c);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    --concurrent;
    std::move(h).ack();
  });
  ASSERT_TRUE(WaitForAcks(rig, 8));
  session->Stop();
  EXPECT_GT(max_concurrent.load(), 1);
}

TEST(DispatcherTest, ExceptionAndDroppedHandlerNack) {
  Rig rig;
  rig.source->Add(MessageBuilder{}.data("throws").build());
  rig.source->Add(MessageBuilder{}.data("drops").build());
  auto session = rig.conn->Subscribe([&](Message m, AckHandler h) {
    AckHandler dropped = std::move(h);
    if (m.data == "throws") throw std::runtime_error("boom");
    // "drops": h goes out of scope unsettled.
  });
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> l(rig.dlq->mu);
    return rig.dlq->got.size() == 2;
  }));
  session->Stop();
  std::set<std::string> reasons;
  for (auto& m : rig.dlq->got) reasons.insert(m.attribute(kDeadLetterReason));
  EXPECT_TRUE(reasons.count("handler threw: boom"));
  EXPECT_TRUE(reasons.count("handler dropped unsettled"));
}

// A source whose Fetch blocks (up to a minute) until Interrupt is called.
class BlockingSource : public SubscriptionSource {
 public:
  absl::StatusOr<std::vector<Delivery>> Fetch(std::size_t, std::size_t, absl::Duration) override {
    std::unique_lock<std::mutex> lock(mu);
    fetching = true;
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(60), [&] { return interrupted; });
    return std::vector<Delivery>{};
  }
  absl::Status Ack(const std::vector<std::string>&) override { return absl::OkStatus(); }
  absl::Status Release(const std::vector<std::string>&) override { return absl::OkStatus(); }
  absl::Status ExtendLeases(const std::vector<std::string>&, absl::Duration) override {
    return absl::OkStatus();
  }
  bool needs_lease_extension() const override { return false; }
  void Interrupt() override {
    std::lock_guard<std::mutex> lock(mu);
    interrupted = true;
    cv.notify_all();
  }
  void Close() override {
    std::lock_guard<std::mutex> lock(mu);
    closed_after_interrupt = interrupted;
  }

  std::mutex mu;
  std::condition_variable cv;
  bool fetching = false, interrupted = false, closed_after_interrupt = false;
};

TEST(DispatcherTest, StopInterruptsABlockedFetchBeforeClosing) {
  auto source = std::make_shared<BlockingSource>();
  auto conn =
      MakeDispatcher(source, DispatcherConfig{"sub-a", "topic-a", FastOptions(), nullptr}, nullptr);
  auto session = conn->Subscribe([](Message, AckHandler h) { std::move(h).ack(); });
  {
    std::unique_lock<std::mutex> lock(source->mu);
    ASSERT_TRUE(
        source->cv.wait_for(lock, std::chrono::seconds(10), [&] { return source->fetching; }));
  }
  session->Stop();  // would wait out the minute-long Fetch without Interrupt
  std::lock_guard<std::mutex> lock(source->mu);
  EXPECT_TRUE(source->interrupted);
  EXPECT_TRUE(source->closed_after_interrupt)
      << "the source is closed only after its Fetch was interrupted";
}

// A source that notes how many acks it had when its Fetch was interrupted.
class InterruptNotingSource : public FakeSource {
 public:
  void Interrupt() override {
    std::lock_guard<std::mutex> lock(mu);
    acked_at_interrupt = static_cast<int>(acked.size());
  }
  int acked_at_interrupt = -1;
};

// A Kafka rebalance served inside Fetch waits for the acks of the revoked partitions
// and stops waiting at Interrupt: acks of handlers that finish while Stop waits for
// them must reach the source before it.
TEST(DispatcherTest, StopForwardsTheAcksOfFinishingHandlersBeforeInterrupting) {
  auto source = std::make_shared<InterruptNotingSource>();
  for (int i = 0; i < 3; ++i)
    source->Add(MessageBuilder{}.data("x").ordering_key(absl::StrCat(i)).build());
  SubscriberOptions o = FastOptions();
  o.concurrency = 3;
  auto conn = MakeDispatcher(source, DispatcherConfig{"sub-a", "topic-a", o, nullptr}, nullptr);
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
  bool go = false;
  auto session = conn->Subscribe([&](Message, AckHandler h) {
    std::unique_lock<std::mutex> lock(mu);
    ++running;
    cv.notify_all();
    cv.wait(lock, [&] { return go; });
    lock.unlock();
    std::move(h).ack();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return running == 3; }));
  }
  std::thread stop([&] { session->Stop(); });
  // Stop has begun once Pull says the subscriber is shut down (before, it says a
  // Subscribe session is running).
  while (
      !absl::StrContains(conn->Pull(1, absl::ZeroDuration()).status().message(), "is shut down")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    go = true;
  }
  cv.notify_all();
  stop.join();
  std::lock_guard<std::mutex> lock(source->mu);
  EXPECT_EQ(source->acked.size(), 3u);
  EXPECT_EQ(source->acked_at_interrupt, 3)
      << "the handlers' acks reached the source only after its Fetch was interrupted";
}

// What a Kafka revoke takes back: only messages no handler has, passing keys on.
TEST(DispatcherTest, WithdrawTakesBackQueuedMessagesAndPassesTheirKeysOn) {
  auto source = std::make_shared<FakeSource>();
  // Tokens 0..3: x (no key; its handler blocks), k1 and k2 (key "k": k2 waits behind
  // k1), y (no key).
  source->Add(MessageBuilder{}.data("x").build());
  source->Add(MessageBuilder{}.data("k1").ordering_key("k").build());
  source->Add(MessageBuilder{}.data("k2").ordering_key("k").build());
  source->Add(MessageBuilder{}.data("y").build());
  SubscriberOptions o = FastOptions();
  o.concurrency = 1;
  auto conn = MakeDispatcher(source, DispatcherConfig{"sub-a", "topic-a", o, nullptr}, nullptr);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> handled;
  bool go = false;
  auto session = conn->Subscribe([&](Message m, AckHandler h) {
    std::unique_lock<std::mutex> lock(mu);
    handled.push_back(m.data);
    cv.notify_all();
    cv.wait(lock, [&] { return go; });
    lock.unlock();
    std::move(h).ack();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return !handled.empty(); }));
  }
  auto wait_outstanding = [&](auto done) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done(conn->stats().outstanding) && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return done(conn->stats().outstanding);
  };
  ASSERT_TRUE(wait_outstanding([](std::int64_t n) { return n == 4; }));
  SubscriptionSource::Withdrawer withdraw;
  {
    std::lock_guard<std::mutex> lock(source->mu);
    withdraw = source->withdraw;
  }
  ASSERT_TRUE(withdraw) << "the dispatcher gave the source no Withdrawer";
  // Everything but y: x is in its handler and stays; k1 is queued and goes, and k2,
  // queued behind it, follows once k1 passed the key on.
  std::vector<std::string> taken = withdraw([](const std::string& token) { return token != "3"; });
  EXPECT_THAT(taken, ::testing::UnorderedElementsAre("1", "2"));
  EXPECT_EQ(conn->stats().outstanding, 2);
  {
    std::lock_guard<std::mutex> lock(mu);
    go = true;
  }
  cv.notify_all();
  EXPECT_TRUE(wait_outstanding([](std::int64_t n) { return n == 0; }))
      << "a message stayed outstanding: a key was not passed on";
  session->Stop();
  EXPECT_THAT(handled, ::testing::ElementsAre("x", "y"));
  std::lock_guard<std::mutex> lock(source->mu);
  EXPECT_THAT(source->acked, ::testing::UnorderedElementsAre("0", "3"));
  EXPECT_TRUE(source->released.empty()) << "taken-back messages are the source's, not released";
  // After Stop it takes nothing.
  EXPECT_TRUE(withdraw([](const std::string&) { return true; }).empty());
}

// A nacked message waiting out its backoff is taken back too, and its key passes on.
TEST(DispatcherTest, WithdrawTakesBackANackedMessageWaitingOutItsBackoff) {
  auto source = std::make_shared<FakeSource>();
  source->Add(MessageBuilder{}.data("n").ordering_key("k").build());
  source->Add(MessageBuilder{}.data("m").ordering_key("k").build());
  SubscriberOptions o = FastOptions();
  o.min_backoff = absl::Minutes(1);  // stays in backoff for the whole test
  o.max_backoff = absl::Minutes(1);
  auto conn = MakeDispatcher(source, DispatcherConfig{"sub-a", "topic-a", o, nullptr}, nullptr);
  std::atomic<int> calls{0};
  auto session = conn->Subscribe([&](Message, AckHandler h) {
    ++calls;
    std::move(h).nack("not now");
  });
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((calls.load() == 0 || conn->stats().outstanding < 2) &&
         std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(calls.load(), 1);
  SubscriptionSource::Withdrawer withdraw;
  {
    std::lock_guard<std::mutex> lock(source->mu);
    withdraw = source->withdraw;
  }
  ASSERT_TRUE(withdraw);
  // Until the handler has returned, n is in it and nothing can be taken.
  std::vector<std::string> taken;
  while (taken.empty() && std::chrono::steady_clock::now() < end) {
    taken = withdraw([](const std::string&) { return true; });
    if (taken.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_THAT(taken, ::testing::UnorderedElementsAre("0", "1"));
  EXPECT_EQ(conn->stats().outstanding, 0);
  session->Stop();
  EXPECT_EQ(calls.load(), 1) << "m was handed out although it was taken back";
  std::lock_guard<std::mutex> lock(source->mu);
  EXPECT_TRUE(source->acked.empty());
  EXPECT_TRUE(source->released.empty());
}

TEST(DispatcherTest, FlowControlBoundsOutstandingMessages) {
  SubscriberOptions o = FastOptions();
  o.max_outstanding_messages = 7;
  Rig rig(o);
  for (int i = 0; i < 100; ++i) rig.source->Add(MessageBuilder{}.data("x").build());
  std::vector<PulledMessage> held;
  // Pull without acking: never more than 7 leased.
  for (int i = 0; i < 5; ++i) {
    auto got = rig.conn->Pull(100, absl::Milliseconds(50));
    ASSERT_TRUE(got.ok());
    for (auto& p : *got) held.push_back(std::move(p));
  }
  EXPECT_EQ(held.size(), 7u);
  EXPECT_LE(rig.source->max_leased, 7);
  for (auto& p : held) std::move(p.ack).ack();
  held.clear();
  int total = 7;
  while (total < 100) {
    auto got = rig.conn->Pull(100, absl::Seconds(1));
    ASSERT_TRUE(got.ok());
    ASSERT_FALSE(got->empty());
    EXPECT_LE(got->size(), 7u);
    total += static_cast<int>(got->size());
    for (auto& p : *got) std::move(p.ack).ack();
  }
  rig.conn->Shutdown();
  EXPECT_EQ(rig.source->acked.size(), 100u);
}

TEST(DispatcherTest, ShutdownReleasesUnsettledAndKeepsAcks) {
  Rig rig;
  for (int i = 0; i < 10; ++i) rig.source->Add(MessageBuilder{}.data("x").build());
  std::vector<PulledMessage> got;
  while (got.size() < 10) {
    auto r = rig.conn->Pull(10, absl::Seconds(1));
    ASSERT_TRUE(r.ok());
    for (auto& p : *r) got.push_back(std::move(p));
  }
  for (int i = 0; i < 4; ++i) std::move(got[i].ack).ack();
  rig.conn->Shutdown();
  EXPECT_EQ(rig.source->acked.size(), 4u);
  EXPECT_EQ(rig.source->released.size(), 6u);
  EXPECT_TRUE(rig.source->closed);
  // Settling after shutdown is harmless.
  for (int i = 4; i < 10; ++i) std::move(got[i].ack).ack();
  EXPECT_EQ(rig.source->acked.size(), 4u);
}

// Acks are queued and settled in batches; stats() and flow control see them at once.
TEST(DispatcherTest, StatsCountAnAckAsSoonAsItIsMade) {
  SubscriberOptions o = FastOptions();
  o.max_outstanding_messages = 5;
  Rig rig(o);
  for (int i = 0; i < 5; ++i) rig.source->Add(MessageBuilder{}.data("x").build());
  std::vector<PulledMessage> got;
  while (got.size() < 5) {
    auto r = rig.conn->Pull(5, absl::Seconds(1));
    ASSERT_TRUE(r.ok());
    for (auto& p : *r) got.push_back(std::move(p));
  }
  for (auto& p : got) std::move(p.ack).ack();
  const SubscriberStats stats = rig.conn->stats();
  EXPECT_EQ(stats.acked, 5);
  EXPECT_EQ(stats.outstanding, 0);
  // The window is free again: five more come. (Added only now: with them waiting,
  // the fetcher may refill the window before stats() is read.)
  for (int i = 0; i < 5; ++i) rig.source->Add(MessageBuilder{}.data("x").build());
  int more = 0;
  while (more < 5) {
    auto r = rig.conn->Pull(5, absl::Seconds(1));
    ASSERT_TRUE(r.ok());
    ASSERT_FALSE(r->empty()) << "acked messages still held the flow-control window";
    for (auto& p : *r) std::move(p.ack).ack();
    more += static_cast<int>(r->size());
  }
  rig.conn->Shutdown();
  EXPECT_EQ(rig.source->acked.size(), 10u);
  EXPECT_TRUE(rig.source->released.empty());
}

// Pulling one message of a key at a time: Pull settles its caller's ack, so the key's
// next message is ready for the very next Pull (before, the ack waited for the
// housekeeper thread, woken by every lone ack).
TEST(DispatcherTest, PullSettlesItsCallersAcksSoAKeysNextMessageIsReadyAtOnce) {
  Rig rig;
  constexpr int kCount = 50;
  for (int i = 0; i < kCount; ++i)
    rig.source->Add(MessageBuilder{}.data(absl::StrCat(i)).ordering_key("k").build());
  auto first = rig.conn->Pull(1, absl::Seconds(5));
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].message.data, "0");
  for (;;) {  // the fetcher has taken them all (they wait behind key "k")
    std::lock_guard<std::mutex> lock(rig.source->mu);
    if (rig.source->pending.empty()) break;
  }
  std::move((*first)[0].ack).ack();
  for (int i = 1; i < kCount; ++i) {
    auto r = rig.conn->Pull(1, absl::ZeroDuration());
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 1u) << "message " << i << " of key k was not ready right after the ack";
    EXPECT_EQ((*r)[0].message.data, absl::StrCat(i));
    std::move((*r)[0].ack).ack();
  }
  rig.conn->Shutdown();
  EXPECT_EQ(rig.source->acked.size(), static_cast<std::size_t>(kCount));
}

// While acks keep coming the housekeeper is not woken by each: it looks every
// kAckLinger. An ack made among them on a thread that does not Pull is still settled
// promptly, and passes its key on to a Pull caller waiting for the next message. The
// window is full, so the fetcher waits for room and settles nothing either.
TEST(DispatcherTest, AnAckAmongManyFromAnotherThreadIsSettledPromptly) {
  constexpr int kPool = 300;
  SubscriberOptions o = FastOptions();     // ack_deadline 30 s: the housekeeper's own timer
  o.max_outstanding_messages = kPool + 2;  // would wake it only after 10 s
  Rig rig(o);
  for (int i = 0; i < kPool; ++i) rig.source->Add(MessageBuilder{}.data("pool").build());
  rig.source->Add(MessageBuilder{}.data("a").ordering_key("k").build());
  rig.source->Add(MessageBuilder{}.data("b").ordering_key("k").build());
  std::vector<PulledMessage> held;
  while (held.size() < kPool + 1) {  // "b" waits behind "a"
    auto r = rig.conn->Pull(kPool + 1 - held.size(), absl::Seconds(5));
    ASSERT_TRUE(r.ok());
    ASSERT_FALSE(r->empty());
    for (auto& p : *r) held.push_back(std::move(p));
  }
  std::thread acker([&] {
    // About 50 ms of acks, "a" among them after the first ~20 ms.
    const auto is_a = [](const PulledMessage& p) { return p.message.data == "a"; };
    int n = 0;
    for (auto& p : held) {
      if (is_a(p)) continue;
      std::move(p.ack).ack();
      if (++n == kPool / 2) {
        for (auto& q : held)
          if (is_a(q)) std::move(q.ack).ack();
      }
      std::this_thread::sleep_for(std::chrono::microseconds(150));
    }
  });
  const absl::Time start = absl::Now();
  auto b = rig.conn->Pull(1, absl::Seconds(3));
  const absl::Duration waited = absl::Now() - start;
  acker.join();
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 1u) << "the other thread's ack of \"a\" was not settled within 3 s";
  EXPECT_EQ((*b)[0].message.data, "b");
  EXPECT_LT(waited, absl::Seconds(2));
  std::move((*b)[0].ack).ack();
  rig.conn->Shutdown();
  EXPECT_EQ(rig.source->acked.size(), static_cast<std::size_t>(kPool + 2));
}

TEST(DispatcherTest, PullAndSubscribeAreExclusive) {
  Rig rig;
  ASSERT_TRUE(rig.conn->Pull(1, absl::Milliseconds(1)).ok());
  auto s = rig.conn->Subscribe([](Message, AckHandler h) { std::move(h).ack(); });
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace unibus::core_internal
