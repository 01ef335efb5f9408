// The contract's rules above the transport, on every backend: portability at
// publish (limits, UTF-8, empty messages, reserved attributes), names, and
// subscriptions created on demand. DESIGN.md 3.9, 3.10, 3.12; README "The contract".
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "conformance/backend.h"
#include "conformance/env_test.h"

namespace unibus::conformance {
namespace {

class Contract : public EnvTest {
 protected:
  Contract() : EnvTest("contract-") {}

  // Pulls and acks until `n` messages came or 60 s passed.
  std::vector<Message> Receive(Subscriber& sub, std::size_t n) {
    std::vector<Message> got;
    const absl::Time end = absl::Now() + absl::Seconds(60);
    while (got.size() < n && absl::Now() < end) {
      auto r = sub.Pull(n - got.size(), absl::Milliseconds(500));
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) break;
      for (auto& m : *r) {
        got.push_back(m.message);
        std::move(m.ack).ack();
      }
    }
    return got;
  }

  // Publishes each of `ok` (expecting success) and then each of `refused`
  // (expecting InvalidArgument, resolved at once), then receives `ok` on a
  // subscription made before, and checks each arrived whole.
  void ExpectDeliveredAndRefused(const std::vector<Message>& ok,
                                 const std::vector<std::pair<std::string, Message>>& refused) {
    const std::string topic = MakeTopic();
    auto sub = broker_->subscriber(Name("sub"), Opts(topic));
    ASSERT_TRUE(sub.ok()) << sub.status();
    auto pub = broker_->publisher(topic);
    ASSERT_TRUE(pub.ok()) << pub.status();
    for (const auto& [what, m] : refused) {
      PublishFuture f = pub->Publish(m);
      EXPECT_TRUE(f.is_ready()) << what << ": not refused at once";
      EXPECT_EQ(f.get().status().code(), absl::StatusCode::kInvalidArgument)
          << what << ": " << f.get().status();
    }
    std::vector<PublishFuture> fs;
    for (const Message& m : ok) fs.push_back(pub->Publish(m));
    for (auto& f : fs) EXPECT_TRUE(f.get().ok()) << f.get().status();
    std::vector<Message> got = Receive(*sub, ok.size());
    ASSERT_EQ(got.size(), ok.size());
    std::map<std::string, const Message*> by_data;
    for (const Message& m : got) by_data[m.data] = &m;
    for (const Message& want : ok) {
      auto it = by_data.find(want.data);
      ASSERT_NE(it, by_data.end()) << "lost a message of " << want.ByteSize() << " bytes";
      EXPECT_EQ(it->second->attributes, want.attributes);
      EXPECT_EQ(it->second->ordering_key, want.ordering_key);
    }
    sub->Shutdown();
  }
};

// A message of n bytes whose data starts with `tag` (so each is told apart).
Message OfSize(std::size_t n, const std::string& tag) {
  std::string data = tag;
  data.resize(n, 'm');
  return MessageBuilder{}.data(std::move(data)).build();
}

TEST_P(Contract, CapabilitiesReportTheLimits) {
  EXPECT_GT(caps_.max_message_bytes, 0u);
  EXPECT_LE(caps_.max_message_bytes, BrokerOptions{}.max_message_bytes);
  for (std::size_t limit : {caps_.max_attributes, caps_.max_attribute_key_bytes,
                            caps_.max_attribute_value_bytes, caps_.max_ordering_key_bytes}) {
    EXPECT_GT(limit, 0u);
    EXPECT_LE(limit, caps_.max_message_bytes);
  }
  if (caps_.backend == "pubsub") {
    EXPECT_EQ(caps_.max_message_bytes, 10'000'000u);
    EXPECT_EQ(caps_.max_attributes, 100u);
    EXPECT_EQ(caps_.max_attribute_key_bytes, 256u);
    EXPECT_EQ(caps_.max_attribute_value_bytes, 1024u);
    EXPECT_EQ(caps_.max_ordering_key_bytes, 1024u);
  }
  if (caps_.backend == "kafka") {
    EXPECT_EQ(caps_.max_message_bytes, 1'000'000u);
  }
  // A smaller BrokerOptions::max_message_bytes lowers the limit.
  auto small = Broker::Open(url_, BrokerOptions{.max_message_bytes = 1000});
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(small->capabilities().max_message_bytes, 1000u);
}

TEST_P(Contract, MessageSizeLimitIsDeliveredEndToEnd) {
  const std::size_t limit = caps_.max_message_bytes;
  ExpectDeliveredAndRefused({OfSize(limit - 1, "below"), OfSize(limit, "at")},
                            {{"limit+1", OfSize(limit + 1, "above")}});
}

TEST_P(Contract, AttributeAndKeyLimitsAreDeliveredEndToEnd) {
  std::vector<Message> ok;
  std::vector<std::pair<std::string, Message>> refused;
  // A limit no smaller than the message limit is covered by the message limit.
  const std::size_t room = caps_.max_message_bytes - 64;
  if (caps_.max_attribute_key_bytes < room) {
    const std::size_t n = caps_.max_attribute_key_bytes;
    ok.push_back(MessageBuilder{}.data("key-1").attribute(std::string(n - 1, 'k'), "v").build());
    ok.push_back(MessageBuilder{}.data("key").attribute(std::string(n, 'k'), "v").build());
    refused.emplace_back(
        "key+1", MessageBuilder{}.data("k").attribute(std::string(n + 1, 'k'), "v").build());
  }
  if (caps_.max_attribute_value_bytes < room) {
    const std::size_t n = caps_.max_attribute_value_bytes;
    ok.push_back(MessageBuilder{}.data("value-1").attribute("a", std::string(n - 1, 'v')).build());
    ok.push_back(MessageBuilder{}.data("value").attribute("a", std::string(n, 'v')).build());
    refused.emplace_back(
        "value+1", MessageBuilder{}.data("v").attribute("a", std::string(n + 1, 'v')).build());
  }
  if (caps_.max_ordering_key_bytes < room) {
    const std::size_t n = caps_.max_ordering_key_bytes;
    ok.push_back(MessageBuilder{}.data("okey-1").ordering_key(std::string(n - 1, 'o')).build());
    ok.push_back(MessageBuilder{}.data("okey").ordering_key(std::string(n, 'p')).build());
    refused.emplace_back("ordering key+1",
                         MessageBuilder{}.data("o").ordering_key(std::string(n + 1, 'o')).build());
  }
  if (caps_.max_attributes < room / 8) {
    auto with = [](std::size_t n, const std::string& data) {
      Message m = MessageBuilder{}.data(data).build();
      for (std::size_t i = 0; i < n; ++i)
        m.attributes.emplace(absl::StrCat("a", i), std::string(1, 'v'));
      return m;
    };
    ok.push_back(with(caps_.max_attributes - 1, "count-1"));
    ok.push_back(with(caps_.max_attributes, "count"));
    refused.emplace_back("count+1", with(caps_.max_attributes + 1, "c"));
  }
  if (ok.empty()) {
    // No limit of its own: far more than Pub/Sub's limits goes through.
    const std::string big(64 * 1024, 'b');
    ok.push_back(MessageBuilder{}.data("big").attribute(big, big).ordering_key(big).build());
  }
  ExpectDeliveredAndRefused(ok, refused);
}

TEST_P(Contract, NonUtf8EmptyAndReservedAreRefusedAtOnce) {
  ExpectDeliveredAndRefused(
      {MessageBuilder{}
           .data("utf8")
           .attribute("k\xc3\xa9", "v\xe2\x82\xac")
           .ordering_key("\xc3\xa9")
           .build(),
       MessageBuilder{}.data("bytes \xff\x00 are fine in data").build(),
       MessageBuilder{}.attribute("only", "attributes").build(),
       MessageBuilder{}
           .data("envelope")
           .attribute("unibus-type", "x.Y")
           .attribute("unibus-encoding", "zstd")
           .attribute("unibus-produced-at", "1")
           .build()},
      {{"key", MessageBuilder{}.data("x").attribute("k\xffv", "v").build()},
       {"value", MessageBuilder{}.data("x").attribute("k", "k\xffv").build()},
       {"ordering key", MessageBuilder{}.data("x").ordering_key("k\xffv").build()},
       {"empty", Message{}},
       {"empty with a key", MessageBuilder{}.ordering_key("k").build()},
       {"empty attribute key", MessageBuilder{}.data("x").attribute("", "v").build()},
       {"reserved", MessageBuilder{}.data("x").attribute(kDeadLetterReason, "mine").build()},
       {"reserved", MessageBuilder{}.data("x").attribute("unibus-source-topic", "t").build()}});
}

// A tool that moves the library's own messages (writing or restoring dead letters)
// opts in to its attributes.
TEST_P(Contract, ReservedAttributesOnlyWhenAToolOptsIn) {
  const std::string topic = MakeTopic();
  auto tool = broker_->publisher(topic, PublisherOptions{.allow_reserved_attributes = true});
  ASSERT_TRUE(tool.ok()) << tool.status();
  auto r =
      tool->Publish(MessageBuilder{}.data("x").attribute(kDeadLetterReason, "r").build()).get();
  EXPECT_TRUE(r.ok()) << r.status();
  // Every other rule still holds.
  r = tool->Publish(MessageBuilder{}.data("x").attribute(kDeadLetterReason, "\xff").build()).get();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
}

TEST_P(Contract, ErrorsNameTheFieldAndTheRule) {
  const std::string topic = MakeTopic();
  auto pub = broker_->publisher(topic);
  ASSERT_TRUE(pub.ok()) << pub.status();
  auto r = pub->Publish(MessageBuilder{}.data("x").attribute("k", "\xff").build()).get();
  EXPECT_NE(r.status().message().find("attribute 'k' is not valid UTF-8"), std::string::npos)
      << r.status();
  r = pub->Publish(Message{}).get();
  EXPECT_NE(r.status().message().find("no data and no attributes"), std::string::npos)
      << r.status();
  r = pub->Publish(MessageBuilder{}.data("x").attribute(kDeadLetterReason, "r").build()).get();
  EXPECT_NE(r.status().message().find("reserved"), std::string::npos) << r.status();
  r = pub->Publish(OfSize(caps_.max_message_bytes + 1, "big")).get();
  EXPECT_NE(r.status().message().find(absl::StrCat("at most ", caps_.max_message_bytes)),
            std::string::npos)
      << r.status();
}

TEST_P(Contract, MissingResourcesGetHintsThatFitTheCall) {
  const std::string missing = Name("missing");
  auto pub = broker_->publisher(missing);
  ASSERT_EQ(pub.status().code(), absl::StatusCode::kNotFound) << pub.status();
  EXPECT_NE(pub.status().message().find("create_topic_if_missing"), std::string::npos)
      << pub.status();
  auto sub = broker_->subscriber(Name("sub"), Opts(missing));
  ASSERT_EQ(sub.status().code(), absl::StatusCode::kNotFound) << sub.status();
  EXPECT_EQ(sub.status().message().find("create_topic_if_missing"), std::string::npos)
      << "a subscriber is told about a publisher option: " << sub.status();
  EXPECT_NE(sub.status().message().find(missing), std::string::npos) << sub.status();
  auto nosub = broker_->subscriber(Name("nosub"));
  ASSERT_EQ(nosub.status().code(), absl::StatusCode::kNotFound) << nosub.status();
  EXPECT_NE(nosub.status().message().find("SubscriberOptions::topic"), std::string::npos)
      << nosub.status();
}

TEST_P(Contract, ASubscriptionCreatedOnDemandDescribesTheSameEverywhere) {
  const std::string topic = MakeTopic();
  const std::string name = Name("on-demand");
  SubscriberOptions o = Opts(topic);
  o.max_delivery_attempts = 7;
  auto sub = broker_->subscriber(name, o);
  ASSERT_TRUE(sub.ok()) << sub.status();
  auto info = broker_->admin().DescribeSubscription(name);
  if (caps_.backend == "kafka" && !caps_.admin_create_topic) {
    sub->Shutdown();
    GTEST_SKIP() << "librdkafka's mock cluster answers a group's OffsetFetch for all topics "
                    "with nothing, so no consumer group can be described there: "
                 << info.status();
  }
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->name, name);
  EXPECT_EQ(info->topic, topic);
  // The library dead-letters (to the subscriber's dead_letter_topic at each open);
  // the subscription itself carries no native dead-letter policy on any backend.
  EXPECT_EQ(info->dead_letter_topic, "");
  EXPECT_TRUE(info->backlog == 0 || info->backlog == -1) << info->backlog;  // -1: cannot count
  // It reads its own topic only (a Kafka consumer group may read several).
  if (caps_.backend != "kafka") {
    auto other = broker_->subscriber(name, Opts(MakeTopic()));
    EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument) << other.status();
  }
  sub->Shutdown();
}

TEST_P(Contract, ADerivedNameTooLongIsRefusedWhenTheSubscriptionIsCreated) {
  const std::string topic = MakeTopic();
  std::string name = Name("s");  // unique, so the test can run again on one broker
  name.resize(249, 's');
  absl::Status s =
      broker_->admin().CreateSubscription(SubscriptionConfig{.name = name, .topic = topic});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("dead-letter topic"), std::string::npos) << s;
  auto sub = broker_->subscriber(name, Opts(topic));
  EXPECT_EQ(sub.status().code(), absl::StatusCode::kInvalidArgument) << sub.status();
  EXPECT_TRUE(absl::IsNotFound(broker_->admin().DescribeSubscription(name).status()));
  // With a dead-letter topic of its own, the same name is fine.
  SubscriberOptions o = Opts(topic);
  o.dead_letter_topic = Name("dlq");
  auto named = broker_->subscriber(name, o);
  EXPECT_TRUE(named.ok()) << named.status();
  if (named.ok()) named->Shutdown();
}

TEST_P(Contract, ExistingResourcesAreReachableByAnyNameTheirBackendAccepts) {
  // Names the portable rule refuses and the backend accepts.
  const std::vector<std::string> names =
      caps_.backend == "pubsub" ? std::vector<std::string>{"orders~eu", "orders+eu"}
                                : std::vector<std::string>{"kj", "_schemas", "1-orders"};
  auto loose = Broker::Open(url_, BrokerOptions{.portable_names = false});
  ASSERT_TRUE(loose.ok()) << loose.status();
  for (const std::string& topic : names) {
    SCOPED_TRACE(topic);
    EXPECT_EQ(broker_->admin().CreateTopic(topic).code(), absl::StatusCode::kInvalidArgument);
    ASSERT_TRUE(env_->CreateTopic(*loose, topic, 1).ok());
    auto sub = broker_->subscriber(Name("reader"), Opts(topic));
    ASSERT_TRUE(sub.ok()) << sub.status();
    auto pub = broker_->publisher(topic);
    ASSERT_TRUE(pub.ok()) << pub.status();
    EXPECT_TRUE(pub->Publish(MessageBuilder{}.data(topic).build()).get().ok());
    auto got = Receive(*sub, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].data, topic);
    sub->Shutdown();
    // The names are fixed: gone again, the test can run again on one broker.
    if (caps_.admin_delete_topic) {
      EXPECT_TRUE(loose->admin().DeleteTopic(topic).ok());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Contract, ::testing::ValuesIn(EnvNames()), EnvParamName);

}  // namespace
}  // namespace unibus::conformance
