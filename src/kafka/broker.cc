// kafka://HOST:PORT[,HOST:PORT...]?k=v&config_file=PATH: Apache Kafka through
// librdkafka. Query parameters, the properties file and BrokerOptions::properties
// pass straight through to librdkafka.
#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/registry.h"
#include "kafka/admin.h"
#include "kafka/common.h"
#include "kafka/publisher.h"
#include "kafka/source.h"

namespace unibus::kafka_internal {
namespace {

// What a default Kafka broker accepts: its message.max.bytes (and a topic's
// max.message.bytes) is 1048588 bytes for a whole record batch.
constexpr std::size_t kBrokerMaxBatchBytes = 1048588;
// Room kept for the record batch's framing (61-byte batch header, a record's
// varints, and up to 10 bytes per header) under message.max.bytes.
constexpr std::size_t kFramingBytes = 48588;
// Headers per message, so that their framing always fits in kFramingBytes.
constexpr std::size_t kMaxHeaders = 1000;

class KafkaTransport : public core_internal::Transport {
 public:
  KafkaTransport(ClientConfig config, std::shared_ptr<KafkaAdmin> admin)
      : config_(std::move(config)), admin_(std::move(admin)) {}

  // The size limit is what librdkafka's message.max.bytes lets through, less
  // framing: 1,000,000 bytes by default (Register sets message.max.bytes to the
  // broker default, 1048588). A topic created elsewhere with a smaller
  // max.message.bytes lowers it further; the broker then refuses at publish.
  Capabilities capabilities() const override {
    Capabilities c;
    c.backend = "kafka";
    c.durable = true;
    c.multi_process = true;
    c.ordering = true;
    c.partitions = true;
    c.native_dead_letter = false;
    c.retention = true;
    c.admin_create_topic = c.admin_delete_topic = admin_->SupportsTopicAdmin();
    c.start_position = true;
    c.survives_broker_restart = true;
    std::size_t max = kBrokerMaxBatchBytes;
    if (auto it = config_.properties.find("message.max.bytes"); it != config_.properties.end()) {
      (void)absl::SimpleAtoi(it->second, &max);
    }
    max = max > kFramingBytes ? max - kFramingBytes : 0;
    c.max_message_bytes = std::min(max, config_.options.max_message_bytes);
    c.max_attributes = kMaxHeaders;
    c.max_attribute_key_bytes = c.max_attribute_value_bytes = c.max_ordering_key_bytes =
        c.max_message_bytes;
    return c;
  }

  absl::Status CheckTopic(const std::string& topic) override { return admin_->CheckTopic(topic); }

  // A consumer group names no topic by itself and may hold positions on several:
  // the one named, else the one whose committed offsets it holds
  // (Admin::CreateSubscription, or an earlier consumer, commits them). A group new
  // to `expected` gets its start position in MakeSource.
  absl::StatusOr<std::string> SubscriptionTopic(const std::string& subscription,
                                                const std::string& expected) override {
    if (!expected.empty()) {
      if (auto s = admin_->CheckTopic(expected); !s.ok()) return s;
      return expected;
    }
    auto info = admin_->DescribeSubscription(subscription);
    if (!info.ok()) return info.status();
    return info->topic;
  }

  absl::StatusOr<std::shared_ptr<PublisherConnection>> MakePublisher(
      const std::string& topic, const PublisherOptions& options) override {
    return MakeKafkaPublisher(config_, topic, options);
  }

  absl::StatusOr<std::shared_ptr<core_internal::SubscriptionSource>> MakeSource(
      const std::string& subscription, const std::string& topic,
      const SubscriberOptions& options) override {
    admin_->EnsureGroupPosition(subscription, topic, options.start);
    return MakeKafkaSource(config_, subscription, topic, options);
  }

  std::shared_ptr<AdminConnection> admin() override { return admin_; }
  std::string url() const override { return config_.url; }

 private:
  const ClientConfig config_;
  const std::shared_ptr<KafkaAdmin> admin_;
};

}  // namespace

void RegisterKafkaBackend() {
  core_internal::RegisterBackend(
      "kafka",
      [](const core_internal::Url& url, const BrokerOptions& options)
          -> absl::StatusOr<std::shared_ptr<core_internal::Transport>> {
        auto config = ResolveConfig(url, options);
        if (!config.ok()) return config.status();
        // librdkafka's default (1000000) is below what a default broker accepts, so
        // a message within Capabilities::max_message_bytes could not be sent.
        config->properties.try_emplace("message.max.bytes", absl::StrCat(kBrokerMaxBatchBytes));
        auto admin = KafkaAdmin::Connect(*config);
        if (!admin.ok()) return admin.status();
        return std::make_shared<KafkaTransport>(*std::move(config), *std::move(admin));
      });
}

}  // namespace unibus::kafka_internal
