#include "kafka/real_kafka_fixture.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "spdlog/logger.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace unibus::kafka_testing {
namespace {

RealCluster* cluster = nullptr;
absl::Status cluster_status = absl::UnknownError("not started");

class ClusterEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    auto c = RealCluster::Start(3);
    cluster_status = c.status();
    if (!c.ok()) return;
    cluster = c->release();
    std::fprintf(stderr, "real_kafka_test: running on %s\n", cluster->description().c_str());
  }
  void TearDown() override {
    delete cluster;
    cluster = nullptr;
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new ClusterEnv);

}  // namespace

RealCluster* TestCluster() { return cluster; }
absl::Status TestClusterStatus() { return cluster_status; }

void RealKafka::SetUp() {
  cluster = TestCluster();
  ASSERT_NE(cluster, nullptr) << "the real Kafka cluster did not start: " << TestClusterStatus();
  // To see what librdkafka did in a failing run, e.g.
  // UNIBUS_TEST_KAFKA_URL_EXTRA='&debug=metadata,cgrp' real_kafka_test --gtest_filter=...:
  // appended to every test's URL, with librdkafka's log on stderr at debug level.
  const char* extra = std::getenv("UNIBUS_TEST_KAFKA_URL_EXTRA");
  BrokerOptions options;
  if (extra != nullptr) {
    options.logger =
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    options.logger->set_level(spdlog::level::debug);
  }
  auto b = Broker::Open(cluster->url() + kFastGroup + (extra ? extra : ""), options);
  ASSERT_TRUE(b.ok()) << b.status();
  broker_ = std::make_unique<Broker>(*b);
}

void RealKafka::TearDown() {
  if (HasFailure() && cluster != nullptr && !cluster->dir().empty()) {
    std::fprintf(stderr, "the cluster's logs (%s):\n%s", cluster->dir().c_str(),
                 cluster->LogDigest(40).c_str());
  }
}

std::string RealKafka::Unique(const std::string& base) {
  static std::atomic<int> counter{0};
  return absl::StrCat(base, "-", counter.fetch_add(1));
}

std::string RealKafka::Topics(std::vector<std::string> args) {
  args.insert(args.begin(), {"--bootstrap-server", cluster->bootstrap()});
  auto out = cluster->Tool("org.apache.kafka.tools.TopicCommand", args);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : "";
}

std::string RealKafka::Groups(std::vector<std::string> args) {
  args.insert(args.begin(), {"--bootstrap-server", cluster->bootstrap()});
  auto out = cluster->Tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", args);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : "";
}

void RealKafka::PublishN(const std::string& topic, int from, int to,
                         conformance::Checker* checker) {
  auto p = broker_->publisher(topic);
  ASSERT_TRUE(p.ok()) << p.status();
  std::vector<PublishFuture> fs;
  for (int i = from; i < to; ++i) {
    const std::string data = absl::StrCat(topic, "/", i);
    if (checker) checker->Expect(data);
    fs.push_back(
        p->Publish(MessageBuilder{}.data(data).ordering_key(absl::StrCat("k", i % 7)).build()));
  }
  for (auto& f : fs) ASSERT_TRUE(f.get().ok()) << f.get().status();
}

std::vector<std::string> RealKafka::Drain(Subscriber& sub, int want, absl::Duration limit) {
  std::vector<std::string> got;
  std::set<std::string> distinct;
  const absl::Time end = absl::Now() + limit;
  while (static_cast<int>(distinct.size()) < want && absl::Now() < end) {
    auto r = sub.Pull(100, absl::Milliseconds(200));
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) break;
    for (auto& m : *r) {
      got.push_back(m.message.data);
      distinct.insert(m.message.data);
      std::move(m.ack).ack();
    }
  }
  return got;
}

}  // namespace unibus::kafka_testing
