// The fixture every cross-backend suite starts from (Conformance, Contract,
// DeadLetters): the env named by the test's parameter, started once per binary, and
// a broker on a fresh namespace of it.
#ifndef UNIBUS_TESTS_CONFORMANCE_ENV_TEST_H_
#define UNIBUS_TESTS_CONFORMANCE_ENV_TEST_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "conformance/backend.h"
#include "spdlog/logger.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "unibus/unibus.h"

namespace unibus::conformance {

class EnvTest : public ::testing::TestWithParam<std::string> {
 protected:
  // `name_prefix` keeps a suite's names apart from the other suites': they share one
  // broker per backend, and their tests can sit on the same line numbers.
  // `max_delivery_attempts` goes into Opts().
  explicit EnvTest(std::string name_prefix, int max_delivery_attempts = 3)
      : name_prefix_(std::move(name_prefix)), max_delivery_attempts_(max_delivery_attempts) {}

  // Skips the test when the env cannot run here, unless the env brings its broker
  // itself (required()): then it fails.
  void SetUp() override {
    absl::Status started;
    env_ = GetEnv(GetParam(), &started);
    if (!started.ok() && env_->required()) FAIL() << GetParam() << " could not start: " << started;
    if (!started.ok()) GTEST_SKIP() << GetParam() << " backend not available here: " << started;
    url_ = env_->Url();
    BrokerOptions options;
    if (const char* v = std::getenv("UNIBUS_TEST_LOG"); v != nullptr && *v != '\0') {
      // The library's log lines (and librdkafka's, e.g. with debug=cgrp) on stderr.
      options.logger = std::make_shared<spdlog::logger>(
          "test", std::make_shared<spdlog::sinks::stderr_sink_mt>());
      options.logger->set_level(spdlog::level::debug);
      options.logger->set_pattern("%H:%M:%S.%e %t %l %v");
    }
    auto b = Broker::Open(url_, options);
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::make_unique<Broker>(*b);
    caps_ = broker_->capabilities();
  }

  // A name unique to this test and call: prefix, `base`, the test's line, a counter
  // (one per process, so --gtest_repeat runs get new names on the same broker).
  std::string Name(const std::string& base) {
    return absl::StrCat(name_prefix_, base, "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->line(), "-",
                        counter_++);
  }

  // A new topic with `partitions` (where the backend has partitions).
  std::string MakeTopic(int partitions = 1) {
    std::string t = Name("topic");
    auto s = env_->CreateTopic(*broker_, t, partitions);
    EXPECT_TRUE(s.ok()) << s;
    return t;
  }

  // Options reading `topic` from its earliest message, with fast redelivery
  // (10-50 ms backoff), max_delivery_attempts and a 5 s shutdown, tuned by the env.
  SubscriberOptions Opts(const std::string& topic) {
    SubscriberOptions o;
    o.topic = topic;
    o.start = StartPosition::kEarliest;
    o.min_backoff = absl::Milliseconds(10);
    o.max_backoff = absl::Milliseconds(50);
    o.max_delivery_attempts = max_delivery_attempts_;
    o.shutdown_timeout = absl::Seconds(5);
    return env_->TuneSubscriber(o);
  }

  BackendEnv* env_ = nullptr;
  std::string url_;
  std::unique_ptr<Broker> broker_;
  Capabilities caps_;

 private:
  std::string name_prefix_;
  int max_delivery_attempts_;
  inline static int counter_ = 0;
};

// Names each instantiation after its env ("mem", "sqlite", ...).
inline std::string EnvParamName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace unibus::conformance

#endif  // UNIBUS_TESTS_CONFORMANCE_ENV_TEST_H_
