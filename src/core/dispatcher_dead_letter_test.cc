// The dispatcher's dead-lettering: copies, reasons, failed and slow writes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/dead_letter.h"
#include "core/dispatcher.h"
#include "core/dispatcher_test_util.h"
#include "unibus/broker.h"

namespace unibus::core_internal {
namespace {

TEST(DispatcherTest, DeadLettersAfterMaxAttemptsWithReasonAttributes) {
  Rig rig;
  rig.source->Add(MessageBuilder{}.data("poison").attribute("a", "1").build());
  std::atomic<int> calls{0};
  auto session = rig.conn->Subscribe([&](Message m, AckHandler h) {
    EXPECT_EQ(m.delivery_attempt, calls.load() + 1);
    ++calls;
    std::move(h).nack("cannot parse");
  });
  ASSERT_TRUE(WaitForAcks(rig, 1));
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
  ASSERT_TRUE(WaitForAcks(rig, 1));
  session->Stop();
  EXPECT_EQ(calls.load(), 1);
  ASSERT_EQ(rig.dlq->got.size(), 1u);
  EXPECT_EQ(rig.dlq->got[0].attribute(kDeadLetterReason), "wrong type");
  EXPECT_EQ(rig.dlq->got[0].attribute(kDeadLetterAttempts), "1");
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
  ASSERT_TRUE(WaitForAcks(rig, 1));
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
  auto dlq = std::make_shared<Dlq>();
  absl::Notification factory_entered, redelivered;
  std::atomic<bool> redelivered_while_opening{false};
  auto conn = MakeDispatcher(source, DispatcherConfig{"sub-a", "topic-a", FastOptions(), nullptr},
                             [&](const std::string&) -> absl::StatusOr<DeadLetterTarget> {
                               factory_entered.Notify();
                               redelivered_while_opening =
                                   redelivered.WaitForNotificationWithTimeout(absl::Seconds(5));
                               return DeadLetterTarget{dlq->mock, 10 << 20};
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

// A reject and then at once a close (a script's last message) used to be dropped:
// the dead-letter thread saw the subscriber stopping and returned without writing,
// and the message came back on the next start, never dead-lettered. The target
// opens slowly here, so that Shutdown begins while the thread waits for it.
TEST(DispatcherDeadLetterTest, ARejectJustBeforeShutdownIsStillDeadLettered) {
  auto source = std::make_shared<FakeSource>();
  auto dlq = std::make_shared<Dlq>();
  source->Add(MessageBuilder{}.data("bad").build());
  auto conn = MakeDispatcher(source, DispatcherConfig{"sub-a", "topic-a", FastOptions(), nullptr},
                             [dlq](const std::string&) -> absl::StatusOr<DeadLetterTarget> {
                               std::this_thread::sleep_for(std::chrono::milliseconds(300));
                               return DeadLetterTarget{dlq->mock, 10 << 20};
                             });
  auto got = conn->Pull(1, absl::Seconds(5));
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 1u);
  std::move((*got)[0].ack).reject("bad input");
  conn->Shutdown();
  ASSERT_EQ(dlq->size(), 1u) << "the reject was not dead-lettered";
  EXPECT_EQ(dlq->got[0].attribute(kDeadLetterReason), "bad input");
  EXPECT_EQ(conn->stats().dead_lettered, 1);
  std::lock_guard<std::mutex> lock(source->mu);
  EXPECT_EQ(source->acked.size(), 1u) << "written, so acked";
  EXPECT_TRUE(source->released.empty()) << "not released to come back";
}

}  // namespace
}  // namespace unibus::core_internal
