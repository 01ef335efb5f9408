// What a backend supplies: transport only. Every rule of the contract that sits
// above it (resolving and creating topics and subscriptions, names, limits, error
// wording) lives once in core/policy_broker.cc, which wraps a Transport into the
// BrokerConnection a Broker holds.
#ifndef UNIBUS_CORE_TRANSPORT_H_
#define UNIBUS_CORE_TRANSPORT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/source.h"
#include "unibus/admin.h"
#include "unibus/capabilities.h"
#include "unibus/options.h"
#include "unibus/publisher.h"

namespace unibus::core_internal {

class Transport {
 public:
  virtual ~Transport() = default;

  // What the backend supports, with the limits it can deliver end to end (already
  // capped by BrokerOptions::max_message_bytes).
  virtual Capabilities capabilities() const = 0;
  // The URL this transport was opened with, secrets removed.
  virtual std::string url() const = 0;
  // The backend's admin client. Core wraps it (names are checked there).
  virtual std::shared_ptr<AdminConnection> admin() = 0;

  // OK when `topic` exists, NotFound (any wording: core words the error for the
  // call) when it does not, otherwise why it cannot tell (Unavailable, ...). Cheaper
  // than Admin::DescribeTopic; never creates anything.
  virtual absl::Status CheckTopic(const std::string& topic) = 0;
  // The topic `subscription` reads: NotFound when it does not exist, otherwise why
  // it cannot tell. `expected` is the topic the caller names (may be empty): a
  // backend whose subscriptions name no topic by themselves (Kafka, where a
  // subscription is a consumer group that may hold positions on several topics)
  // answers `expected` when it is set.
  virtual absl::StatusOr<std::string> SubscriptionTopic(const std::string& subscription,
                                                        const std::string& expected) = 0;

  // A publisher for `topic`, which core has just seen exist. No policy: core checks
  // names, options and every message before it gets here.
  virtual absl::StatusOr<std::shared_ptr<PublisherConnection>> MakePublisher(
      const std::string& topic, const PublisherOptions& options) = 0;
  // The feed of `subscription`, which exists and reads `topic`.
  virtual absl::StatusOr<std::shared_ptr<SubscriptionSource>> MakeSource(
      const std::string& subscription, const std::string& topic,
      const SubscriberOptions& options) = 0;
};

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_TRANSPORT_H_
