// A gMock BrokerConnection, to test code that opens publishers, subscribers and
// admins from a Broker without a real one: unibus::Broker broker(mock). Return
// the other mocks from MakePublisher, MakeSubscriber and admin.
//
// Needs gMock (GTest::gmock); the unibus library itself does not.
#ifndef UNIBUS_MOCKS_MOCK_BROKER_CONNECTION_H_
#define UNIBUS_MOCKS_MOCK_BROKER_CONNECTION_H_

#include <gmock/gmock.h>

#include <memory>
#include <string>

#include "unibus/broker.h"

namespace unibus_mocks {

class MockBrokerConnection : public unibus::BrokerConnection {
 public:
  MOCK_METHOD(unibus::Capabilities, capabilities, (), (const, override));
  MOCK_METHOD(absl::StatusOr<std::shared_ptr<unibus::PublisherConnection>>, MakePublisher,
              (const std::string& topic, const unibus::PublisherOptions& options), (override));
  MOCK_METHOD(absl::StatusOr<std::shared_ptr<unibus::SubscriberConnection>>, MakeSubscriber,
              (const std::string& subscription, const unibus::SubscriberOptions& options),
              (override));
  MOCK_METHOD(std::shared_ptr<unibus::AdminConnection>, admin, (), (override));
  MOCK_METHOD(std::string, url, (), (const, override));
};

}  // namespace unibus_mocks

#endif  // UNIBUS_MOCKS_MOCK_BROKER_CONNECTION_H_
