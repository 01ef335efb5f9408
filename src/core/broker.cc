#include "unibus/broker.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "core/duration.h"
#include "core/names.h"
#include "core/policy_broker.h"
#include "core/registry.h"
#include "core/url.h"

namespace unibus {

using core_internal::CheckDuration;

std::string DefaultUrl() {
  const char* env = std::getenv("UNIBUS_URL");
  if (env != nullptr && *env != '\0') return env;
  return "sqlite://unibus.db";
}

absl::StatusOr<Broker> Broker::Open(const std::string& url, BrokerOptions options) {
  core_internal::RegisterBuiltinBackends();
  if (auto s = CheckDuration("BrokerOptions::connect_timeout", options.connect_timeout,
                             /*zero_ok=*/false);
      !s.ok()) {
    return s;
  }
  auto parsed = core_internal::ParseUrl(url);
  if (!parsed.ok()) return parsed.status();
  const auto* factory = core_internal::FindBackend(parsed->scheme);
  if (factory == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown URL scheme '", parsed->scheme, "' in '", core_internal::RedactUrl(url),
        "'; this build supports: ",
        absl::StrJoin(
            core_internal::RegisteredSchemes(), ", ",
            [](std::string* out, const std::string& s) { absl::StrAppend(out, s, "://"); })));
  }
  auto transport = (*factory)(*parsed, options);
  if (!transport.ok()) return transport.status();
  return Broker(core_internal::WithPolicy(*std::move(transport), std::move(options)));
}

absl::StatusOr<Publisher> Broker::publisher(const std::string& topic, PublisherOptions options) {
  if (auto s = core_internal::ValidateAnyName("topic", topic); !s.ok()) return s;
  if (options.max_batch_messages == 0) {
    return absl::InvalidArgumentError("PublisherOptions::max_batch_messages must be at least 1");
  }
  // 0 would block every Publish for good: "while this many are unsent" is always true.
  if (options.max_pending_messages == 0) {
    return absl::InvalidArgumentError("PublisherOptions::max_pending_messages must be at least 1");
  }
  if (auto s = CheckDuration("PublisherOptions::max_batch_delay", options.max_batch_delay);
      !s.ok()) {
    return s;
  }
  auto conn = conn_->MakePublisher(topic, options);
  if (!conn.ok()) return conn.status();
  return Publisher(*std::move(conn), conn_->capabilities(), topic,
                   options.allow_reserved_attributes);
}

absl::StatusOr<Subscriber> Broker::subscriber(const std::string& subscription,
                                              SubscriberOptions options) {
  if (auto s = core_internal::ValidateAnyName("subscription", subscription); !s.ok()) return s;
  if (options.max_outstanding_messages == 0) {
    return absl::InvalidArgumentError(
        "SubscriberOptions::max_outstanding_messages must be at least 1");
  }
  if (options.max_delivery_attempts < 1) {
    return absl::InvalidArgumentError(
        "SubscriberOptions::max_delivery_attempts must be at least 1");
  }
  if (options.concurrency < 1) {
    return absl::InvalidArgumentError("SubscriberOptions::concurrency must be at least 1");
  }
  if (options.ack_deadline < absl::Milliseconds(300)) {
    return absl::InvalidArgumentError("SubscriberOptions::ack_deadline must be at least 300ms");
  }
  if (options.min_backoff <= absl::ZeroDuration() || options.max_backoff < options.min_backoff) {
    return absl::InvalidArgumentError(
        "SubscriberOptions backoff must satisfy 0 < min_backoff <= max_backoff");
  }
  // An infinite ack_deadline would lease a message for good (a crashed consumer's
  // never come back). An infinite max_backoff (no cap) and shutdown_timeout (wait for
  // the handlers however long) stay allowed.
  if (auto s = CheckDuration("SubscriberOptions::ack_deadline", options.ack_deadline); !s.ok()) {
    return s;
  }
  if (auto s = CheckDuration("SubscriberOptions::shutdown_timeout", options.shutdown_timeout,
                             /*zero_ok=*/true, /*infinite_ok=*/true);
      !s.ok()) {
    return s;
  }
  if (options.dead_letter_topic.empty()) {
    options.dead_letter_topic = core_internal::DerivedDeadLetterTopic(subscription);
  }
  auto conn = conn_->MakeSubscriber(subscription, options);
  if (!conn.ok()) return conn.status();
  return Subscriber(*std::move(conn));
}

}  // namespace unibus
