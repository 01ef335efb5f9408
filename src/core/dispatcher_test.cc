#include "core/dispatcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/dead_letter.h"
#include "unibus/broker.h"

namespace unibus::core_internal {
namespace {

// A source holding a fixed list of messages; records acks and releases.
class FakeSource : public SubscriptionSource {
 public:
  void Add(Message m) {
    std::lock_guard<std::mutex> lock(mu);
    pending.push_back(Delivery{std::move(m), absl::StrCat(next_token++)});
  }
  absl::StatusOr<std::vector<Delivery>> Fetch(std::size_t max, std::size_t,
                                              absl::Duration wait) override {
    std::vector<Delivery> out;
    {
      std::lock_guard<std::mutex> lock(mu);
      max_fetch_request = std::max(max_fetch_request, max);
      while (!pending.empty() && out.size() < max) {
        out.push_back(std::move(pending.front()));
        pending.pop_front();
      }
      leased += static_cast<int>(out.size());
      max_leased = std::max(max_leased, leased);
    }
    if (out.empty())
      std::this_thread::sleep_for(absl::ToChronoNanoseconds(std::min(wait, absl::Milliseconds(5))));
    return out;
  }
  absl::Status Ack(const std::vector<std::string>& tokens) override {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& t : tokens) acked.push_back(t);
    leased -= static_cast<int>(tokens.size());
    return absl::OkStatus();
  }
  absl::Status Release(const std::vector<std::string>& tokens) override {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& t : tokens) released.insert(t);
    return absl::OkStatus();
  }
  absl::Status ExtendLeases(const std::vector<std::string>&, absl::Duration) override {
    return absl::OkStatus();
  }
  bool needs_lease_extension() const override { return false; }
  void Close() override { closed = true; }

  std::mutex mu;
  std::deque<Delivery> pending;
  std::vector<std::string> acked;
  std::set<std::string> released;
  int next_token = 0, leased = 0, max_leased = 0;
  std::size_t max_fetch_request = 0;
  std::atomic<bool> closed{false};
};

// A dead-letter topic: records what is published and answers with `result` (OK by
// default), at once or, when `hold` is set, when the test calls Answer().
class FakeDlq : public PublisherConnection {
 public:
  PublishFuture Publish(Message m) override {
    std::lock_guard<std::mutex> lock(mu);
    ++publishes;
    const absl::Status r = result ? result(publishes) : absl::OkStatus();
    if (r.ok()) got.push_back(std::move(m));
    if (hold) {
      Promise<absl::StatusOr<MessageId>> p;
      auto f = p.get_future();
      held.emplace_back(std::move(p), r);
      return f;
    }
    if (!r.ok()) return MakeReadyFuture<absl::StatusOr<MessageId>>(r);
    return MakeReadyFuture<absl::StatusOr<MessageId>>(MessageId("dlq-1"));
  }
  // Completes the held publishes.
  void Answer() {
    std::vector<std::pair<Promise<absl::StatusOr<MessageId>>, absl::Status>> answer;
    {
      std::lock_guard<std::mutex> lock(mu);
      answer.swap(held);
    }
    for (auto& [p, r] : answer) {
      if (r.ok())
        p.set_value(MessageId("dlq-1"));
      else
        p.set_value(r);
    }
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  void Shutdown() override {}
  std::size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return got.size();
  }
  std::mutex mu;
  std::vector<Message> got;
  int publishes = 0;
  std::function<absl::Status(int publish)> result;  // called under mu
  bool hold = false;
  std::vector<std::pair<Promise<absl::StatusOr<MessageId>>, absl::Status>> held;
};

SubscriberOptions FastOptions() {
  SubscriberOptions o;
  o.min_backoff = absl::Milliseconds(1);
  o.max_backoff = absl::Milliseconds(4);
  o.max_delivery_attempts = 3;
  o.dead_letter_topic = "sub-a.dead-letter";
  o.shutdown_timeout = absl::Seconds(5);
  return o;
}

struct Rig {
  explicit Rig(SubscriberOptions o = FastOptions(), std::size_t max_message_bytes = 10 << 20) {
    source = std::make_shared<FakeSource>();
    dlq = std::make_shared<FakeDlq>();
    auto d = dlq;
    conn = MakeDispatcher(
        source, DispatcherConfig{"sub-a", "topic-a", o, nullptr},
        [d, max_message_bytes](const std::string& topic) -> absl::StatusOr<DeadLetterTarget> {
          EXPECT_EQ(topic, "sub-a.dead-letter");
          return DeadLetterTarget{d, max_message_bytes};
        });
  }
  std::shared_ptr<FakeSource> source;
  std::shared_ptr<FakeDlq> dlq;
  std::shared_ptr<SubscriberConnection> conn;
};

bool WaitFor(const std::function<bool()>& pred, absl::Duration limit = absl::Seconds(10)) {
  const absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

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
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> l(rig.source->mu);
    return rig.source->acked.size() == 20;
  }));
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
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> l(rig.source->mu);
    return rig.source->acked.size() == 8;
  }));
  session->Stop();
  EXPECT_GT(max_concurrent.load(), 1);
}

TEST(DispatcherTest, DeadLettersAfterMaxAttemptsWithReasonAttributes) {
  Rig rig;
  rig.source->Add(MessageBuilder{}.data("poison").attribute("a", "1").build());
  std::atomic<int> calls{0};
  auto session = rig.conn->Subscribe([&](Message m, AckHandler h) {
    EXPECT_EQ(m.delivery_attempt, calls.load() + 1);
    ++calls;
    std::move(h).nack("cannot parse");
  });
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> l(rig.source->mu);
    return rig.source->acked.size() == 1;
  }));
  session->Stop();
  EXPECT_EQ(calls.load(), 3);
  ASSERT_EQ(rig.dlq->got.size(), 1u);
  const Message& d = rig.dlq->got[0];
  EXPECT_EQ(d.data, "poison");
  EXPECT_EQ(d.attribute("a"), "1");
  EXPECT_EQ(d.attribute(kDeadLetterReason), "cannot parse");
  EXPECT_EQ(d.attribute(kDeadLetterSourceTopic), "topic-a");
  EXPECT_EQ(d.attribute(kDeadLetterAttempts), "3");
  EXPECT_EQ(rig.conn->stats().dead_lettered, 1);
}

TEST(DispatcherTest, RejectDeadLettersAtOnce) {
  Rig rig;
  rig.source->Add(MessageBuilder{}.data("not an image").build());
  std::atomic<int> calls{0};
  auto session = rig.conn->Subscribe([&](Message, AckHandler h) {
    ++calls;
    std::move(h).reject("wrong type");
  });
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> l(rig.source->mu);
    return rig.source->acked.size() == 1;
  }));
  session->Stop();
  EXPECT_EQ(calls.load(), 1);
  ASSERT_EQ(rig.dlq->got.size(), 1u);
  EXPECT_EQ(rig.dlq->got[0].attribute(kDeadLetterReason), "wrong type");
  EXPECT_EQ(rig.dlq->got[0].attribute(kDeadLetterAttempts), "1");
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

TEST(DispatcherTest, PullAndSubscribeAreExclusive) {
  Rig rig;
  ASSERT_TRUE(rig.conn->Pull(1, absl::Milliseconds(1)).ok());
  auto s = rig.conn->Subscribe([](Message, AckHandler h) { std::move(h).ack(); });
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
}

// issue 10: a message whose dead-letter copy cannot be written used to go back to
// its handler every second, forever, silently.
TEST(DispatcherDeadLetterTest, ACopyThatCannotBeWrittenIsReportedAndNotRunAgain) {
  Rig rig;
  rig.dlq->result = [](int) { return absl::InvalidArgumentError("message too large"); };
  rig.source->Add(MessageBuilder{}.data("poison").build());
  std::atomic<int> calls{0};
  auto session = rig.conn->Subscribe([&](Message, AckHandler h) {
    ++calls;
    std::move(h).nack("cannot parse");
  });
  ASSERT_TRUE(session.ok());
  const absl::Status reported = session->Wait(absl::Seconds(10));
  EXPECT_EQ(reported.code(), absl::StatusCode::kInvalidArgument) << reported;
  EXPECT_NE(reported.message().find("sub-a.dead-letter"), std::string::npos) << reported;
  EXPECT_NE(reported.message().find("message too large"), std::string::npos) << reported;
  // Longer than the old one-second retry that re-ran the handler.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(calls.load(), 3) << "the handler ran again past max_delivery_attempts";
  SubscriberStats stats = rig.conn->stats();
  EXPECT_EQ(stats.dead_letter_failed, 1);
  EXPECT_EQ(stats.dead_lettered, 0);
  EXPECT_EQ(stats.outstanding, 1) << "it stays unacked";
  EXPECT_EQ(session->Wait(absl::Milliseconds(1)).code(), absl::StatusCode::kDeadlineExceeded)
      << "reported once";
  session->Stop();
  EXPECT_TRUE(rig.source->acked.empty());
  EXPECT_EQ(rig.source->released, std::set<std::string>{"0"}) << "returned to the broker";
  EXPECT_EQ(rig.conn->stats().dead_letter_failed, 1);
}

TEST(DispatcherDeadLetterTest, ACopyOverTheSizeLimitIsReportedAndReleasesItsKey) {
  Rig rig(FastOptions(), /*max_message_bytes=*/200);
  rig.source->Add(MessageBuilder{}.data(std::string(190, 'x')).ordering_key("k").build());
  rig.source->Add(MessageBuilder{}.data("next").ordering_key("k").build());
  std::mutex mu;
  std::vector<std::string> seen;
  auto session = rig.conn->Subscribe([&](Message m, AckHandler h) {
    {
      std::lock_guard<std::mutex> lock(mu);
      seen.push_back(m.data.substr(0, 4));
    }
    if (m.data == "next")
      std::move(h).ack();
    else
      std::move(h).reject("wrong type");
  });
  const absl::Status reported = session->Wait(absl::Seconds(10));
  EXPECT_EQ(reported.code(), absl::StatusCode::kInvalidArgument) << reported;
  EXPECT_NE(reported.message().find("200-byte"), std::string::npos) << reported;
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> l(rig.source->mu);
    return rig.source->acked.size() == 1;
  })) << "the key's next message was held back";
  session->Stop();
  EXPECT_EQ(seen, (std::vector<std::string>{"xxxx", "next"}));
  EXPECT_EQ(rig.dlq->size(), 0u);
  EXPECT_EQ(rig.source->released, std::set<std::string>{"0"});
}

TEST(DispatcherDeadLetterTest, ReasonAttributesAreBounded) {
  Rig rig;
  rig.source->Add(MessageBuilder{}.data("x").build());
  auto session = rig.conn->Subscribe(
      [&](Message, AckHandler h) { std::move(h).reject(std::string(100000, 'r')); });
  ASSERT_TRUE(WaitFor([&] { return rig.dlq->size() == 1; }));
  session->Stop();
  const std::string reason = rig.dlq->got[0].attribute(kDeadLetterReason);
  EXPECT_EQ(reason.size(), kMaxDeadLetterReasonBytes);
  EXPECT_EQ(reason.substr(reason.size() - 3), "...");
}

TEST(DispatcherDeadLetterTest, UserValuesOfReservedAttributesArePreserved) {
  Rig rig;
  rig.source->Add(MessageBuilder{}
                      .data("x")
                      .attribute(kDeadLetterReason, "from another client")
                      .attribute(kDeadLetterSourceTopic, "elsewhere")
                      .build());
  auto session = rig.conn->Subscribe([&](Message, AckHandler h) { std::move(h).reject("bad"); });
  ASSERT_TRUE(WaitFor([&] { return rig.dlq->size() == 1; }));
  session->Stop();
  const Message& d = rig.dlq->got[0];
  EXPECT_EQ(d.attribute(kDeadLetterReason), "bad");
  EXPECT_EQ(d.attribute(kDeadLetterSourceTopic), "topic-a");
  EXPECT_EQ(d.attribute("unibus-original-unibus-dead-letter-reason"), "from another client");
  EXPECT_EQ(d.attribute("unibus-original-unibus-source-topic"), "elsewhere");
}

// A transient dead-letter failure is retried as a dead-letter write, not by running
// the handler again; each counter counts the message once.
TEST(DispatcherDeadLetterTest, ATransientFailureRetriesTheWriteAndCountsOnce) {
  Rig rig;
  rig.dlq->result = [](int publish) {
    return publish == 1 ? absl::UnavailableError("leader moved") : absl::OkStatus();
  };
  rig.source->Add(MessageBuilder{}.data("poison").build());
  std::atomic<int> calls{0};
  auto session = rig.conn->Subscribe([&](Message, AckHandler h) {
    ++calls;
    std::move(h).nack("cannot parse");
  });
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> l(rig.source->mu);
    return rig.source->acked.size() == 1;
  }));
  session->Stop();
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(rig.dlq->publishes, 2);
  EXPECT_EQ(rig.dlq->size(), 1u);
  const SubscriberStats stats = rig.conn->stats();
  EXPECT_EQ(stats.delivered, 3);
  EXPECT_EQ(stats.nacked, 3);
  EXPECT_EQ(stats.dead_lettered, 1);
  EXPECT_EQ(stats.dead_letter_failed, 0);
  EXPECT_EQ(stats.acked, 0) << "acked counts the handlers' acks only";
}

// issue 10: Stop during a dead-letter write either finishes it (the message is then
// acked) or leaves the message unacked, never both.
TEST(DispatcherDeadLetterTest, StopWaitsForAWriteInFlightAndAcksItsMessage) {
  Rig rig;
  rig.dlq->hold = true;
  rig.source->Add(MessageBuilder{}.data("x").build());
  auto session = rig.conn->Subscribe([&](Message, AckHandler h) { std::move(h).reject("bad"); });
  ASSERT_TRUE(WaitFor([&] { return rig.dlq->size() == 1; }));
  std::thread broker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    rig.dlq->Answer();
  });
  session->Stop();
  broker.join();
  EXPECT_EQ(rig.source->acked, std::vector<std::string>{"0"});
  EXPECT_TRUE(rig.source->released.empty()) << "released and dead-lettered: a duplicate";
  EXPECT_EQ(rig.conn->stats().dead_lettered, 1);
}

TEST(DispatcherDeadLetterTest, StopLeavesAMessageWhoseWriteFailedUnacked) {
  Rig rig;
  rig.dlq->hold = true;
  rig.dlq->result = [](int) { return absl::UnavailableError("down"); };
  rig.source->Add(MessageBuilder{}.data("x").build());
  auto session = rig.conn->Subscribe([&](Message, AckHandler h) { std::move(h).reject("bad"); });
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> l(rig.dlq->mu);
    return rig.dlq->publishes == 1;
  }));
  std::thread broker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    rig.dlq->Answer();
  });
  session->Stop();
  broker.join();
  EXPECT_TRUE(rig.source->acked.empty());
  EXPECT_EQ(rig.source->released, std::set<std::string>{"0"});
  EXPECT_EQ(rig.dlq->size(), 0u);
}

// Opening the dead-letter topic can take seconds (creating it on a remote broker);
// meanwhile other messages' redeliveries keep their schedule.
TEST(DispatcherDeadLetterTest, ASlowDeadLetterTopicNeverStallsRedeliveries) {
  auto source = std::make_shared<FakeSource>();
  auto dlq = std::make_shared<FakeDlq>();
  absl::Notification factory_entered, redelivered;
  std::atomic<bool> redelivered_while_opening{false};
  auto conn = MakeDispatcher(source, DispatcherConfig{"sub-a", "topic-a", FastOptions(), nullptr},
                             [&](const std::string&) -> absl::StatusOr<DeadLetterTarget> {
                               factory_entered.Notify();
                               redelivered_while_opening =
                                   redelivered.WaitForNotificationWithTimeout(absl::Seconds(5));
                               return DeadLetterTarget{dlq, 10 << 20};
                             });
  source->Add(MessageBuilder{}.data("reject me").build());
  source->Add(MessageBuilder{}.data("nack me").build());
  auto session = conn->Subscribe([&](Message m, AckHandler h) {
    if (m.data == "reject me") {
      std::move(h).reject("bad");
    } else if (m.delivery_attempt == 1) {
      factory_entered.WaitForNotificationWithTimeout(absl::Seconds(5));
      std::move(h).nack("later");
    } else {
      if (!redelivered.HasBeenNotified()) redelivered.Notify();
      std::move(h).ack();
    }
  });
  ASSERT_TRUE(WaitFor([&] { return dlq->size() == 1; }));
  session->Stop();
  EXPECT_TRUE(redelivered_while_opening.load())
      << "the redelivery waited for the dead-letter topic";
}

// A message the broker has delivered more than max_delivery_attempts times (it
// counted the attempts of an earlier session) is dead-lettered without its handler.
TEST(DispatcherDeadLetterTest, AMessagePastTheLimitSkipsItsHandler) {
  Rig rig;
  Message m = MessageBuilder{}.data("again").build();
  m.delivery_attempt = 4;  // max_delivery_attempts is 3
  rig.source->Add(std::move(m));
  std::atomic<int> calls{0};
  auto session = rig.conn->Subscribe([&](Message, AckHandler h) {
    ++calls;
    std::move(h).ack();
  });
  ASSERT_TRUE(WaitFor([&] { return rig.dlq->size() == 1; }));
  session->Stop();
  EXPECT_EQ(calls.load(), 0);
  EXPECT_EQ(rig.dlq->got[0].attribute(kDeadLetterAttempts), "4");
  EXPECT_EQ(rig.source->acked, std::vector<std::string>{"0"});
}

// The repro on the mem backend: a message just under the broker's size
// limit, nacked until it must be dead-lettered.
TEST(DispatcherDeadLetterTest, OnMemAMessageNearTheLimitIsReportedNotLooped) {
  BrokerOptions bo;
  bo.max_message_bytes = 4096;
  auto broker = Broker::Open("mem://dispatcher-dead-letter-near-limit", bo);
  ASSERT_TRUE(broker.ok()) << broker.status();
  PublisherOptions po;
  po.create_topic_if_missing = true;
  auto pub = broker->publisher("images", po);
  ASSERT_TRUE(pub.ok()) << pub.status();
  SubscriberOptions so = FastOptions();
  so.topic = "images";
  so.start = StartPosition::kEarliest;
  so.dead_letter_topic = "";
  auto sub = broker->subscriber("classifier", so);
  ASSERT_TRUE(sub.ok()) << sub.status();
  auto id = pub->Publish(MessageBuilder{}.data(std::string(4000, 'a')).build()).get();
  ASSERT_TRUE(id.ok()) << id.status();
  std::atomic<int> calls{0};
  auto session = sub->Subscribe([&](Message, AckHandler h) {
    ++calls;
    std::move(h).nack("cannot parse");
  });
  ASSERT_TRUE(session.ok());
  const absl::Status reported = session->Wait(absl::Seconds(10));
  EXPECT_EQ(reported.code(), absl::StatusCode::kInvalidArgument) << reported;
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(sub->stats().dead_letter_failed, 1);
  session->Stop();
}

}  // namespace
}  // namespace unibus::core_internal
