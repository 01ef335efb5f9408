// The fixture of kafka_test: a 3-broker librdkafka mock cluster per test and a broker
// on it with consumer-group timeouts short enough that a rebalance takes ~1 s.
#ifndef UNIBUS_TESTS_KAFKA_KAFKA_MOCK_FIXTURE_H_
#define UNIBUS_TESTS_KAFKA_KAFKA_MOCK_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "conformance/checker.h"
#include "conformance/drain.h"
#include "kafka/mock_cluster.h"
#include "unibus/unibus.h"

namespace unibus::kafka_internal {

using conformance::Checker;
using conformance::DrainPull;

constexpr char kFastGroup[] = "session.timeout.ms=6000&heartbeat.interval.ms=500";

class KafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = MockCluster::Start(3);
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = *std::move(c);
    auto b = Broker::Open(absl::StrCat(cluster_->url(), "?", kFastGroup));
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::make_unique<Broker>(*b);
  }
  void TearDown() override {
    broker_.reset();
    cluster_.reset();
  }

  SubscriberOptions Opts(const std::string& topic) {
    SubscriberOptions o;
    o.topic = topic;
    o.start = StartPosition::kEarliest;
    o.min_backoff = absl::Milliseconds(10);
    o.max_backoff = absl::Milliseconds(50);
    return o;
  }

  // Publishes "topic/i" for i in [from, to) and records them with `checker`.
  void Publish(Publisher& p, const std::string& topic, int from, int to, Checker& checker) {
    std::vector<PublishFuture> fs;
    for (int i = from; i < to; ++i) {
      const std::string data = absl::StrCat(topic, "/", i);
      checker.Expect(data);
      fs.push_back(
          p.Publish(MessageBuilder{}.data(data).ordering_key(absl::StrCat("k", i % 10)).build()));
    }
    for (auto& f : fs) ASSERT_TRUE(f.get().ok()) << f.get().status();
  }

  // Creates `topic` with `partitions` and publishes "topic/i" for i in [0, n).
  void CreateAndPublish(const std::string& topic, int partitions, int n, Checker& checker) {
    ASSERT_TRUE(cluster_->CreateTopic(topic, partitions).ok());
    auto p = broker_->publisher(topic);
    ASSERT_TRUE(p.ok()) << p.status();
    Publish(*p, topic, 0, n, checker);
  }

  std::unique_ptr<MockCluster> cluster_;
  std::unique_ptr<Broker> broker_;
};

}  // namespace unibus::kafka_internal

#endif  // UNIBUS_TESTS_KAFKA_KAFKA_MOCK_FIXTURE_H_
