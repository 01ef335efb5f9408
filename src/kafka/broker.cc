// kafka://HOST:PORT[,HOST:PORT...]?k=v&config_file=PATH: Apache Kafka through
// librdkafka. Query parameters, the properties file and BrokerOptions::properties
// pass straight through to librdkafka.
#include "absl/strings/str_cat.h"
#include "core/dispatcher.h"
#include "core/registry.h"
#include "kafka/admin.h"
#include "kafka/common.h"
#include "kafka/publisher.h"
#include "kafka/source.h"

namespace unibus::kafka_internal {
namespace {

class KafkaBroker : public BrokerConnection, public std::enable_shared_from_this<KafkaBroker> {
 public:
  KafkaBroker(ClientConfig config, std::shared_ptr<KafkaAdmin> admin)
      : config_(std::move(config)), admin_(std::move(admin)) {}

  Capabilities capabilities() const override {
    Capabilities c;
    c.backend = "kafka";
    c.durable = true;
    c.multi_process = true;
    c.ordering = true;
    c.partitions = true;
    c.native_dead_letter = false;
    c.seek = true;
    c.retention = true;
    c.admin_create_topic = c.admin_delete_topic = admin_->SupportsTopicAdmin();
    c.start_position = true;
    c.survives_broker_restart = true;
    return c;
  }

  absl::StatusOr<std::shared_ptr<PublisherConnection>> MakePublisher(
      const std::string& topic, const PublisherOptions& options) override {
    absl::Status exists = admin_->CheckTopic(topic);
    if (absl::IsNotFound(exists) && options.create_topic_if_missing) {
      exists = admin_->CreateTopic(TopicConfig{.name = topic});
      // A server without CreateTopics (the mock cluster) creates it on first use.
      if (absl::IsUnimplemented(exists) || absl::IsAlreadyExists(exists)) exists = absl::OkStatus();
    }
    if (!exists.ok()) return exists;
    return MakeKafkaPublisher(config_, topic, options);
  }

  absl::StatusOr<std::shared_ptr<SubscriberConnection>> MakeSubscriber(
      const std::string& subscription, const SubscriberOptions& options) override {
    std::string topic = options.topic;
    if (topic.empty()) {
      // A consumer group names no topic; one created by Admin::CreateSubscription
      // (or used before) tells it by its committed offsets.
      auto info = admin_->DescribeSubscription(subscription);
      if (!info.ok()) {
        return absl::NotFoundError(absl::StrCat(
            "subscription '", subscription, "' is unknown on ", config_.url,
            ": on Kafka a subscription is a consumer group, which names no topic by itself; set "
            "SubscriberOptions::topic (or --topic), or create it with `unibus subscriptions "
            "create ",
            subscription, " --topic TOPIC`"));
      }
      topic = info->topic;
    } else if (auto s = admin_->CheckTopic(topic); !s.ok()) {
      return s;
    }
    admin_->EnsureGroupPosition(subscription, topic, options.start);
    auto source = MakeKafkaSource(config_, subscription, topic, options);
    if (!source.ok()) return source.status();
    core_internal::DispatcherConfig config{subscription, topic, options, config_.options.logger};
    return core_internal::MakeDispatcher(
        *std::move(source), std::move(config),
        core_internal::DeadLetterThrough(weak_from_this(), config_.options.max_message_bytes));
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
      [](const core_internal::Url& url,
         const BrokerOptions& options) -> absl::StatusOr<std::shared_ptr<BrokerConnection>> {
        auto config = ResolveConfig(url, options);
        if (!config.ok()) return config.status();
        auto admin = KafkaAdmin::Connect(*config);
        if (!admin.ok()) return admin.status();
        return std::make_shared<KafkaBroker>(*std::move(config), *std::move(admin));
      });
}

}  // namespace unibus::kafka_internal
