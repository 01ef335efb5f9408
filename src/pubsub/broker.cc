// pubsub://PROJECT: the transport and its registration.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/registry.h"
#include "pubsub/admin.h"
#include "pubsub/connection.h"
#include "pubsub/publisher.h"
#include "pubsub/source.h"

namespace unibus::pubsub_internal {
namespace {

class PubsubTransport : public core_internal::Transport {
 public:
  explicit PubsubTransport(std::shared_ptr<Connection> conn)
      : conn_(std::move(conn)), admin_(std::make_shared<PubsubAdmin>(conn_)) {}

  // Pub/Sub is durable across anything a client sees. The limits are Pub/Sub's
  // (cloud.google.com/pubsub/quotas): 10 MB a message, 100 attributes, 256-byte
  // attribute keys, 1024-byte attribute values and ordering keys.
  Capabilities capabilities() const override {
    Capabilities c;
    c.backend = "pubsub";
    c.durable = true;  // held by the server, not by this process
    c.multi_process = true;
    c.ordering = conn_->endpoint().ordering;  // subscriptions unibus creates enable message
                                              // ordering (unless ordering=off)
    c.partitions = false;
    c.native_dead_letter = true;  // Admin can set a subscription's dead-letter policy
    c.retention = true;
    c.admin_create_topic = true;
    c.admin_delete_topic = true;
    c.start_position = true;  // earliest = what the topic retains (TopicConfig::retention)
    c.survives_broker_restart = !conn_->endpoint().emulator;
    c.max_message_bytes = std::min(conn_->options().max_message_bytes, kMaxRequestBytes);
    c.max_attributes = kMaxAttributes;
    c.max_attribute_key_bytes = kMaxAttributeKeyBytes;
    c.max_attribute_value_bytes = kMaxAttributeValueBytes;
    c.max_ordering_key_bytes = kMaxOrderingKeyBytes;
    return c;
  }

  absl::Status CheckTopic(const std::string& topic) override {
    return admin_->DescribeTopic(topic).status();
  }

  absl::StatusOr<std::string> SubscriptionTopic(const std::string& subscription,
                                                const std::string& /*expected*/) override {
    auto sub = admin_->GetSubscription(subscription);
    if (!sub.ok()) return sub.status();
    return ShortName(sub->topic());
  }

  absl::StatusOr<std::shared_ptr<PublisherConnection>> MakePublisher(
      const std::string& topic, const PublisherOptions& options) override {
    return std::make_shared<PubsubPublisher>(conn_, topic, options);
  }

  absl::StatusOr<std::shared_ptr<core_internal::SubscriptionSource>> MakeSource(
      const std::string& subscription, const std::string& topic,
      const SubscriberOptions& options) override {
    return std::make_shared<StreamingPullSource>(conn_, subscription, topic, options,
                                                 conn_->endpoint().streams);
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
  core_internal::RegisterBackend("pubsub",
                                 [](const core_internal::Url& url, const BrokerOptions& options)
                                     -> absl::StatusOr<std::shared_ptr<core_internal::Transport>> {
                                   auto endpoint = ParseEndpoint(url);
                                   if (!endpoint.ok()) return endpoint.status();
                                   auto conn = Connection::Open(*std::move(endpoint), options);
                                   if (!conn.ok()) return conn.status();
                                   return std::make_shared<PubsubTransport>(*std::move(conn));
                                 });
}

}  // namespace unibus::pubsub_internal
