// DeadLetters (list, show, replay) on every backend the conformance suite knows:
// the same calls, the same results.
#include "unibus/dead_letters.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "conformance/backend.h"
#include "conformance/env_test.h"

namespace unibus {
namespace {

TEST(ReplayMessageTest, KeepsDataKeyAndUserAttributesDropsDeadLetterOnes) {
  DeadLetter d;
  d.message = MessageBuilder{}
                  .data("payload")
                  .ordering_key("img-7")
                  .attribute("color", "red")
                  .attribute("unibus-type", "demo.Image")
                  .attribute(kDeadLetterReason, "cannot parse")
                  .attribute(kDeadLetterSourceTopic, "images")
                  .attribute(kDeadLetterSourceSubscription, "classify")
                  .attribute(kDeadLetterAttempts, "5")
                  .attribute("CloudPubSubDeadLetterSourceDeliveryCount", "5")
                  // The message's own value of a library name, kept by dead-lettering.
                  .attribute("unibus-original-unibus-source-topic", "mine")
                  .attribute("unibus-original-unibus-original-unibus-source-topic", "nested")
                  .attribute("unibus-original-other", "not ours")
                  .build();
  Message m = ReplayMessage(d);
  EXPECT_EQ(m.data, "payload");
  EXPECT_EQ(m.ordering_key, "img-7");
  EXPECT_EQ(m.attributes,
            (std::map<std::string, std::string>{{"color", "red"},
                                                {"unibus-type", "demo.Image"},
                                                {"unibus-source-topic", "mine"},
                                                {"unibus-original-unibus-source-topic", "nested"},
                                                {"unibus-original-other", "not ours"}}));
}

TEST(DeadLetterSelectorTest, EmptySelectsNothingFiltersCombine) {
  DeadLetter d;
  d.message.id = "7";
  d.reason = "bad";
  EXPECT_FALSE(DeadLetterSelector{}.Matches(d));
  EXPECT_TRUE(DeadLetterSelector{.all = true}.Matches(d));
  EXPECT_TRUE(DeadLetterSelector{.reason = "bad"}.Matches(d));
  EXPECT_FALSE(DeadLetterSelector{.reason = "other"}.Matches(d));
  EXPECT_TRUE((DeadLetterSelector{.ids = {"3", "7"}}.Matches(d)));
  EXPECT_FALSE((DeadLetterSelector{.reason = "other", .ids = {"7"}}.Matches(d)));
}

TEST(CountByReasonTest, MostFrequentFirst) {
  std::vector<DeadLetter> v(4);
  v[0].reason = "b";
  v[1].reason = "a";
  v[2].reason = "a";
  v[3].reason = "c";
  EXPECT_EQ(CountByReason(v),
            (std::vector<std::pair<std::string, int>>{{"a", 2}, {"b", 1}, {"c", 1}}));
}

TEST(DeadLettersOpenTest, RejectsBadNamesAndLimits) {
  auto broker = Broker::Open("mem://dead-letters-open");
  ASSERT_TRUE(broker.ok());
  EXPECT_EQ(DeadLetters::Open(*broker, "bad name").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DeadLetters::Open(*broker, "sub", {.max_messages = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto d = DeadLetters::Open(*broker, "sub");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->dead_letter_topic(), "sub.dead-letter");
  EXPECT_EQ(d->reader_subscription(), "sub.dead-letter.reader");
}

class DeadLettersTest : public conformance::EnvTest {
 protected:
  DeadLettersTest() : EnvTest("dead-letters-", /*max_delivery_attempts=*/2) {}

  // Where the backend cannot report the reader's backlog (Kafka, Pub/Sub), each
  // call waits this long after the last dead letter.
  // librdkafka's mock cluster takes 10-20 s to hand a group's partitions to a new
  // consumer right after the last one left.
  DeadLetterOptions Fast() const {
    return {.wait = absl::Milliseconds(500),
            .first_wait = GetParam() == "kafka" ? absl::Seconds(40) : absl::Seconds(10)};
  }
};

TEST_P(DeadLettersTest, NothingDeadLetteredListsNothing) {
  auto d = DeadLetters::Open(*broker_, Name("never-failed"), Fast());
  ASSERT_TRUE(d.ok()) << d.status();
  auto list = d->List();
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(list->empty());
  EXPECT_EQ(d->Show("1").status().code(), absl::StatusCode::kNotFound);
  auto report = d->Replay({.all = true});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->replayed.empty());
}

// Three messages of one ordering key are dead-lettered (the oldest with reason
// "wrong-size", then two "unparsable"); list shows all three, leaving them; replay
// by reason, then by id, then all, each time the source subscription gets the
// original message back and the dead-letter topic keeps only the rest.
TEST_P(DeadLettersTest, ListShowAndReplayByReasonIdAndAll) {
  const std::string topic = Name("images");
  const std::string sub_name = Name("classify");
  ASSERT_TRUE(env_->CreateTopic(*broker_, topic, 1).ok());
  if (!broker_->capabilities().admin_create_topic) {
    ASSERT_TRUE(env_->CreateTopic(*broker_, sub_name + ".dead-letter", 1).ok());
  }
  auto sub = broker_->subscriber(sub_name, Opts(topic));
  ASSERT_TRUE(sub.ok()) << sub.status();
  auto pub = broker_->publisher(topic);
  ASSERT_TRUE(pub.ok()) << pub.status();
  const std::vector<std::string> reasons = {"wrong-size", "unparsable", "unparsable"};
  for (int i = 0; i < 4; ++i) {
    auto b = MessageBuilder{}
                 .data(absl::StrCat("image-", i))
                 .attribute("seq", absl::StrCat(i))
                 .attribute("content-type", "application/x-protobuf")
                 .ordering_key("camera-1");
    ASSERT_TRUE(pub->Publish(std::move(b).build()).get().ok());
  }

  // The consumer fails seq 0-2 every time and acks seq 3.
  const absl::Time end = absl::Now() + absl::Seconds(60);
  while (sub->stats().dead_lettered < 3 && absl::Now() < end) {
    auto got = sub->Pull(10, absl::Milliseconds(100));
    ASSERT_TRUE(got.ok()) << got.status();
    for (auto& m : *got) {
      int seq = std::stoi(m.message.attribute("seq"));
      if (seq < 3)
        std::move(m.ack).nack(reasons[seq]);
      else
        std::move(m.ack).ack();
    }
  }
  ASSERT_EQ(sub->stats().dead_lettered, 3);

  auto dl = DeadLetters::Open(*broker_, sub_name, Fast());
  ASSERT_TRUE(dl.ok()) << dl.status();
  auto list = dl->List();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const DeadLetter& d = (*list)[i];
    EXPECT_EQ(d.message.data, absl::StrCat("image-", i));
    EXPECT_EQ(d.message.ordering_key, "camera-1");
    EXPECT_EQ(d.reason, reasons[i]);
    EXPECT_EQ(d.source_topic, topic);
    EXPECT_EQ(d.source_subscription, sub_name);
    EXPECT_EQ(d.delivery_attempts, 2);
    EXPECT_NE(d.dead_lettered_at, absl::InfinitePast());
  }
  EXPECT_EQ(CountByReason(*list),
            (std::vector<std::pair<std::string, int>>{{"unparsable", 2}, {"wrong-size", 1}}));
  // Listing leaves them: a second list sees the same three.
  auto again = dl->List();
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->size(), 3u);
  auto filtered = dl->List({.reason = "unparsable"});
  ASSERT_TRUE(filtered.ok()) << filtered.status();
  EXPECT_EQ(filtered->size(), 2u);

  auto shown = dl->Show((*list)[1].message.id);
  ASSERT_TRUE(shown.ok()) << shown.status();
  EXPECT_EQ(shown->message.data, "image-1");
  EXPECT_EQ(dl->Show("no-such-id").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(dl->Replay({}).status().code(), absl::StatusCode::kInvalidArgument);

  // Every replayed message comes back to the source subscription as published.
  auto receive_replayed = [&](int want) {
    std::vector<Message> out;
    const absl::Time until = absl::Now() + absl::Seconds(30);
    while (static_cast<int>(out.size()) < want && absl::Now() < until) {
      auto got = sub->Pull(10, absl::Milliseconds(100));
      EXPECT_TRUE(got.ok()) << got.status();
      if (!got.ok()) break;
      for (auto& m : *got) {
        out.push_back(m.message);
        std::move(m.ack).ack();
      }
    }
    return out;
  };
  auto expect_original = [&](const Message& m, int seq) {
    EXPECT_EQ(m.data, absl::StrCat("image-", seq));
    EXPECT_EQ(m.ordering_key, "camera-1");
    EXPECT_EQ(m.attributes,
              (std::map<std::string, std::string>{{"seq", absl::StrCat(seq)},
                                                  {"content-type", "application/x-protobuf"}}));
  };

  auto by_reason = dl->Replay({.reason = "wrong-size"});
  ASSERT_TRUE(by_reason.ok()) << by_reason.status();
  EXPECT_EQ(by_reason->replayed, std::vector<std::string>{(*list)[0].message.id});
  EXPECT_TRUE(by_reason->failed.empty());
  auto back = receive_replayed(1);
  ASSERT_EQ(back.size(), 1u);
  expect_original(back[0], 0);
  auto left = dl->List();
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ((*left)[0].message.data, "image-1");

  auto by_id = dl->Replay({.ids = {(*list)[1].message.id, "no-such-id"}});
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_EQ(by_id->replayed, std::vector<std::string>{(*list)[1].message.id});
  EXPECT_EQ(by_id->missing, std::vector<std::string>{"no-such-id"});
  back = receive_replayed(1);
  ASSERT_EQ(back.size(), 1u);
  expect_original(back[0], 1);

  auto rest = dl->Replay({.all = true});
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(rest->replayed, std::vector<std::string>{(*list)[2].message.id});
  back = receive_replayed(1);
  ASSERT_EQ(back.size(), 1u);
  expect_original(back[0], 2);
  auto none = dl->List();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
  sub->Shutdown();
}

// A replay whose source topic is gone fails for that dead letter and leaves it.
TEST_P(DeadLettersTest, ReplayToAMissingTopicLeavesTheDeadLetter) {
  if (!broker_->capabilities().admin_delete_topic) GTEST_SKIP() << "cannot delete topics here";
  const std::string topic = Name("orders");
  const std::string sub_name = Name("billing");
  ASSERT_TRUE(env_->CreateTopic(*broker_, topic, 1).ok());
  if (!broker_->capabilities().admin_create_topic) {
    ASSERT_TRUE(env_->CreateTopic(*broker_, sub_name + ".dead-letter", 1).ok());
  }
  {
    auto sub = broker_->subscriber(sub_name, Opts(topic));
    ASSERT_TRUE(sub.ok()) << sub.status();
    auto pub = broker_->publisher(topic);
    ASSERT_TRUE(pub.ok());
    ASSERT_TRUE(pub->Publish(MessageBuilder{}.data("x").build()).get().ok());
    const absl::Time end = absl::Now() + absl::Seconds(60);
    while (sub->stats().dead_lettered < 1 && absl::Now() < end) {
      auto got = sub->Pull(10, absl::Milliseconds(100));
      ASSERT_TRUE(got.ok());
      for (auto& m : *got) std::move(m.ack).nack("poison");
    }
    ASSERT_EQ(sub->stats().dead_lettered, 1);
    sub->Shutdown();
  }
  ASSERT_TRUE(broker_->admin().DeleteSubscription(sub_name).ok());
  ASSERT_TRUE(broker_->admin().DeleteTopic(topic).ok());
  auto dl = DeadLetters::Open(*broker_, sub_name, Fast());
  ASSERT_TRUE(dl.ok());
  auto report = dl->Replay({.all = true});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->replayed.empty());
  ASSERT_EQ(report->failed.size(), 1u);
  EXPECT_EQ(report->failed[0].second.code(), absl::StatusCode::kNotFound)
      << report->failed[0].second;
  auto list = dl->List();
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, DeadLettersTest, ::testing::ValuesIn(conformance::EnvNames()),
                         conformance::EnvParamName);

}  // namespace
}  // namespace unibus
