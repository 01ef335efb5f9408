// A gMock AdminConnection, to test code that manages topics and subscriptions
// without a broker: unibus::Admin admin(std::make_shared<MockAdminConnection>()).
//
// Needs gMock (GTest::gmock); the unibus library itself does not.
#ifndef UNIBUS_MOCKS_MOCK_ADMIN_CONNECTION_H_
#define UNIBUS_MOCKS_MOCK_ADMIN_CONNECTION_H_

#include <gmock/gmock.h>

#include <string>
#include <vector>

#include "unibus/admin.h"

namespace unibus_mocks {

class MockAdminConnection : public unibus::AdminConnection {
 public:
  MOCK_METHOD(absl::Status, CreateTopic, (const unibus::TopicConfig& config), (override));
  MOCK_METHOD(absl::Status, DeleteTopic, (const std::string& name), (override));
  MOCK_METHOD(absl::StatusOr<std::vector<std::string>>, ListTopics, (), (override));
  MOCK_METHOD(absl::StatusOr<unibus::TopicInfo>, DescribeTopic, (const std::string& name),
              (override));
  MOCK_METHOD(absl::Status, CreateSubscription, (const unibus::SubscriptionConfig& config),
              (override));
  MOCK_METHOD(absl::Status, DeleteSubscription, (const std::string& name), (override));
  MOCK_METHOD(absl::StatusOr<std::vector<std::string>>, ListSubscriptions, (), (override));
  MOCK_METHOD(absl::StatusOr<unibus::SubscriptionInfo>, DescribeSubscription,
              (const std::string& name), (override));
};

}  // namespace unibus_mocks

#endif  // UNIBUS_MOCKS_MOCK_ADMIN_CONNECTION_H_
