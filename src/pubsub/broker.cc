// pubsub://PROJECT: the BrokerConnection and its registration.
#include "absl/strings/str_cat.h"
#include "core/dispatcher.h"
#include "core/registry.h"
#include "pubsub/admin.h"
#include "pubsub/connection.h"
#include "pubsub/publisher.h"
#include "pubsub/source.h"

namespace unibus::pubsub_internal {
namespace {

class PubsubBroker : public BrokerConnection, public std::enable_shared_from_this<PubsubBroker> {
 public:
  explicit PubsubBroker(std::shared_ptr<Connection> conn)
      : conn_(std::move(conn)), admin_(std::make_shared<PubsubAdmin>(conn_)) {}

  // The emulator keeps everything in memory and cannot seek; Pub/Sub itself is
  // durable across anything a client sees.
  Capabilities capabilities() const override {
    Capabilities c;
    c.backend = "pubsub";
    c.durable = true;  // held by the server, not by this process
    c.multi_process = true;
    c.ordering = conn_->endpoint().ordering;  // subscriptions unibus creates enable message
                                              // ordering (unless ordering=off)
    c.partitions = false;
    c.native_dead_letter = true;  // Admin can set a subscription's dead-letter policy
    c.seek = false;
    c.retention = true;
    c.admin_create_topic = true;
    c.admin_delete_topic = true;
    c.start_position = true;  // earliest = what the topic retains (TopicConfig::retention)
    c.survives_broker_restart = !conn_->endpoint().emulator;
    return c;
  }

  absl::StatusOr<std::shared_ptr<PublisherConnection>> MakePublisher(
      const std::string& topic, const PublisherOptions& options) override {
    auto info = admin_->DescribeTopic(topic);
    if (!info.ok()) {
      if (!absl::IsNotFound(info.status()) || !options.create_topic_if_missing)
        return info.status();
      if (auto s = admin_->CreateTopic(TopicConfig{.name = topic});
          !s.ok() && !absl::IsAlreadyExists(s))
        return s;
    }
    return std::make_shared<PubsubPublisher>(conn_, topic, options);
  }

  absl::StatusOr<std::shared_ptr<SubscriberConnection>> MakeSubscriber(
      const std::string& subscription, const SubscriberOptions& options) override {
    auto sub = admin_->GetSubscription(subscription);
    std::string topic;
    if (sub.ok()) {
      topic = ShortName(sub->topic());
      if (!options.topic.empty() && topic != options.topic) {
        return absl::InvalidArgumentError(absl::StrCat("subscription '", subscription, "' in ",
                                                       conn_->endpoint().url, " reads topic '",
                                                       topic, "', not '", options.topic, "'"));
      }
    } else if (absl::IsNotFound(sub.status()) && !options.topic.empty()) {
      SubscriptionConfig c{.name = subscription,
                           .topic = options.topic,
                           .start = options.start,
                           .ack_deadline = options.ack_deadline,
                           .message_ordering = conn_->endpoint().ordering};
      // Competing consumers may race to create it; either one wins.
      if (auto s = admin_->CreateSubscription(c); !s.ok() && !absl::IsAlreadyExists(s)) return s;
      topic = options.topic;
    } else if (absl::IsNotFound(sub.status())) {
      return absl::NotFoundError(absl::StrCat(
          sub.status().message(), "; create it (unibus subscriptions create ", subscription,
          " --topic TOPIC --url ", conn_->endpoint().url, ") or set SubscriberOptions::topic"));
    } else {
      return sub.status();
    }
    core_internal::DispatcherConfig config{subscription, topic, options, conn_->options().logger};
    return core_internal::MakeDispatcher(
        std::make_shared<StreamingPullSource>(conn_, subscription, topic, options,
                                              conn_->endpoint().streams),
        std::move(config),
        core_internal::DeadLetterThrough(weak_from_this(), conn_->options().max_message_bytes));
  }

  std::shared_ptr<AdminConnection> admin() override { return admin_; }
  std::string url() const override {
    const Endpoint& e = conn_->endpoint();
    std::string u = e.emulator ? absl::StrCat(e.url, "?emulator=", e.address) : e.url;
    auto add = [&](absl::string_view kv) {
      absl::StrAppend(&u, u.find('?') == std::string::npos ? "?" : "&", kv);
    };
    if (e.streams > 0) add(absl::StrCat("streams=", e.streams));
    if (!e.ordering) add("ordering=off");
    return u;
  }

 private:
  std::shared_ptr<Connection> conn_;
  std::shared_ptr<PubsubAdmin> admin_;
};

}  // namespace

void RegisterPubsubBackend() {
  core_internal::RegisterBackend(
      "pubsub",
      [](const core_internal::Url& url,
         const BrokerOptions& options) -> absl::StatusOr<std::shared_ptr<BrokerConnection>> {
        auto endpoint = ParseEndpoint(url);
        if (!endpoint.ok()) return endpoint.status();
        auto conn = Connection::Open(*std::move(endpoint), options);
        if (!conn.ok()) return conn.status();
        return std::make_shared<PubsubBroker>(*std::move(conn));
      });
}

}  // namespace unibus::pubsub_internal
