// The BrokerConnection every Broker::Open returns: a backend's Transport with the
// contract's broker-level policy applied once, in core.
#ifndef UNIBUS_CORE_POLICY_BROKER_H_
#define UNIBUS_CORE_POLICY_BROKER_H_

#include <memory>

#include "core/transport.h"
#include "unibus/broker.h"

namespace unibus::core_internal {

// Wraps `transport`:
// - MakePublisher checks that the topic exists (NotFound with a publisher's hint),
//   creating it when options.create_topic_if_missing.
// - MakeSubscriber resolves the subscription's topic, refuses a different
//   SubscriberOptions::topic (InvalidArgument), creates a missing subscription on
//   SubscriberOptions::topic the same way on every backend (OnDemandSubscription),
//   reports a missing subscription or topic with a subscriber's hint, and runs the
//   shared dispatcher over the transport's source, dead-lettering through itself.
// - admin() applies the naming rule to what it creates (names.h), per
//   options.portable_names.
// An unreachable broker is reported as the transport says (Unavailable), never as
// a missing resource.
std::shared_ptr<BrokerConnection> WithPolicy(std::shared_ptr<Transport> transport,
                                             BrokerOptions options);

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_POLICY_BROKER_H_
