#include "core/policy_broker.h"

#include "absl/strings/str_cat.h"
#include "core/dispatcher.h"
#include "core/duration.h"
#include "core/names.h"
#include "core/policy.h"

namespace unibus::core_internal {
namespace {

// The backend's admin, with the naming rule applied to what it creates.
class PolicyAdmin : public AdminConnection {
 public:
  PolicyAdmin(std::shared_ptr<AdminConnection> inner, bool portable)
      : inner_(std::move(inner)), portable_(portable) {}

  absl::Status CreateTopic(const TopicConfig& config) override {
    if (auto s = CheckNew("topic", config.name); !s.ok()) return s;
    // Checked here for every backend: Kafka took a negative count without a word,
    // and an infinite age would overflow retention.ms.
    if (auto s =
            CheckDuration(absl::StrCat("topic '", config.name, "': retention"), config.retention,
                          /*zero_ok=*/true, /*infinite_ok=*/false, "0: the backend's default");
        !s.ok()) {
      return s;
    }
    // Backends keep retention in whole milliseconds: less would become 0, which sqlite
    // reads as "no age limit" and Kafka's retention.ms as "keep nothing".
    if (config.retention > absl::ZeroDuration() && config.retention < absl::Milliseconds(1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "topic '", config.name,
          "': retention must be at least 1ms (backends keep it in whole milliseconds), got ",
          absl::FormatDuration(config.retention)));
    }
    if (config.retention_messages < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "topic '", config.name, "': retention_messages must be >= 0 (0: no limit), got ",
          config.retention_messages));
    }
    return inner_->CreateTopic(config);
  }
  absl::Status DeleteTopic(const std::string& name) override { return inner_->DeleteTopic(name); }
  absl::StatusOr<std::vector<std::string>> ListTopics() override { return inner_->ListTopics(); }
  absl::StatusOr<TopicInfo> DescribeTopic(const std::string& name) override {
    return inner_->DescribeTopic(name);
  }
  absl::Status CreateSubscription(const SubscriptionConfig& config) override {
    if (portable_) {
      if (auto s = ValidateNewSubscription(config.name, config.dead_letter_topic); !s.ok())
        return s;
    } else if (auto s = ValidateAnyName("subscription", config.name); !s.ok()) {
      return s;
    }
    if (auto s = ValidateAnyName("topic", config.topic); !s.ok()) return s;
    // As SubscriberOptions: a subscription no message can be delivered to, or whose
    // leases never expire, is refused rather than recorded.
    if (config.max_delivery_attempts < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "subscription '", config.name, "': max_delivery_attempts must be at least 1, got ",
          config.max_delivery_attempts));
    }
    if (auto s = CheckDuration(absl::StrCat("subscription '", config.name, "': ack_deadline"),
                               config.ack_deadline);
        !s.ok()) {
      return s;
    }
    return inner_->CreateSubscription(config);
  }
  absl::Status DeleteSubscription(const std::string& name) override {
    return inner_->DeleteSubscription(name);
  }
  absl::StatusOr<std::vector<std::string>> ListSubscriptions() override {
    return inner_->ListSubscriptions();
  }
  absl::StatusOr<SubscriptionInfo> DescribeSubscription(const std::string& name) override {
    return inner_->DescribeSubscription(name);
  }

  absl::Status CheckNew(absl::string_view kind, const std::string& name) const {
    return portable_ ? ValidateName(kind, name) : ValidateAnyName(kind, name);
  }

 private:
  const std::shared_ptr<AdminConnection> inner_;
  const bool portable_;
};

class PolicyBroker : public BrokerConnection, public std::enable_shared_from_this<PolicyBroker> {
 public:
  PolicyBroker(std::shared_ptr<Transport> t, BrokerOptions options)
      : t_(std::move(t)),
        options_(std::move(options)),
        admin_(std::make_shared<PolicyAdmin>(t_->admin(), options_.portable_names)) {}

  Capabilities capabilities() const override { return t_->capabilities(); }

  absl::StatusOr<std::shared_ptr<PublisherConnection>> MakePublisher(
      const std::string& topic, const PublisherOptions& options) override {
    if (auto s = ValidateAnyName("topic", topic); !s.ok()) return s;
    absl::Status exists = t_->CheckTopic(topic);
    if (absl::IsNotFound(exists)) {
      if (!options.create_topic_if_missing)
        return TopicNotFound(t_->url(), topic, Caller::kPublisher);
      exists = admin_->CreateTopic(TopicConfig{.name = topic});
      // Another client may create it at the same moment; a server without
      // CreateTopics (librdkafka's mock cluster) creates topics on first use.
      if (absl::IsAlreadyExists(exists) || absl::IsUnimplemented(exists)) exists = absl::OkStatus();
    }
    if (!exists.ok()) return exists;
    return t_->MakePublisher(topic, options);
  }

  absl::StatusOr<std::shared_ptr<SubscriberConnection>> MakeSubscriber(
      const std::string& subscription, const SubscriberOptions& given) override {
    if (auto s = ValidateAnyName("subscription", subscription); !s.ok()) return s;
    SubscriberOptions options = given;
    if (options.dead_letter_topic.empty())
      options.dead_letter_topic = DerivedDeadLetterTopic(subscription);
    auto topic = ResolveOrCreate(subscription, options);
    if (!topic.ok()) return topic.status();
    if (auto s = CheckDeadLetterTopic(subscription, options.dead_letter_topic); !s.ok()) return s;
    auto source = t_->MakeSource(subscription, *topic, options);
    if (!source.ok()) return source.status();
    DispatcherConfig config{subscription, *topic, options, options_.logger};
    return MakeDispatcher(
        *std::move(source), std::move(config),
        DeadLetterThrough(weak_from_this(), t_->capabilities().max_message_bytes));
  }

  std::shared_ptr<AdminConnection> admin() override { return admin_; }
  std::string url() const override { return t_->url(); }

 private:
  // The topic `subscription` reads, creating the subscription on options.topic when
  // it does not exist.
  absl::StatusOr<std::string> ResolveOrCreate(const std::string& subscription,
                                              const SubscriberOptions& options) {
    auto topic = t_->SubscriptionTopic(subscription, options.topic);
    if (absl::IsNotFound(topic.status())) {
      if (options.topic.empty()) return SubscriptionNotFound(t_->url(), subscription);
      if (auto s = t_->CheckTopic(options.topic); !s.ok()) {
        return absl::IsNotFound(s) ? TopicNotFound(t_->url(), options.topic, Caller::kSubscriber)
                                   : s;
      }
      const SubscriptionConfig config = OnDemandSubscription(subscription, options);
      // The subscriber's own dead-letter topic is the one unibus will create.
      if (options_.portable_names) {
        if (auto s = ValidateNewSubscription(subscription, options.dead_letter_topic); !s.ok())
          return s;
      }
      absl::Status created = t_->admin()->CreateSubscription(config);
      // Competing consumers race to create it: either one wins. A server that
      // cannot create one ahead (Unimplemented) creates it with its first consumer.
      if (absl::IsUnimplemented(created)) return options.topic;
      if (!created.ok() && !absl::IsAlreadyExists(created)) return created;
      if (created.ok()) return options.topic;
      topic = t_->SubscriptionTopic(subscription, options.topic);
    }
    if (!topic.ok()) {
      return absl::IsNotFound(topic.status()) ? SubscriptionNotFound(t_->url(), subscription)
                                              : topic.status();
    }
    if (!options.topic.empty() && *topic != options.topic) {
      return absl::InvalidArgumentError(absl::StrCat(
          "subscription '", subscription, "' on ", t_->url(), " reads topic '", *topic, "', not '",
          options.topic, "'; use another subscription name for '", options.topic, "'"));
    }
    return topic;
  }

  // A dead-letter topic unibus would have to create must have a name it may create
  // (so that a message is never stuck because its dead-letter topic cannot exist).
  absl::Status CheckDeadLetterTopic(const std::string& subscription, const std::string& topic) {
    if (!options_.portable_names) return absl::OkStatus();
    absl::Status named = ValidateName("dead-letter topic", topic);
    if (named.ok() || t_->CheckTopic(topic).ok()) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(named.message(), "; subscription '", subscription,
                     "' needs it to dead-letter: create it, or set "
                     "SubscriberOptions::dead_letter_topic to a valid name"));
  }

  const std::shared_ptr<Transport> t_;
  const BrokerOptions options_;
  const std::shared_ptr<PolicyAdmin> admin_;
};

}  // namespace

std::shared_ptr<BrokerConnection> WithPolicy(std::shared_ptr<Transport> transport,
                                             BrokerOptions options) {
  return std::make_shared<PolicyBroker>(std::move(transport), std::move(options));
}

}  // namespace unibus::core_internal
