// gMock SubscriberConnection and SessionImpl, to test code that receives without a
// broker: a Pull that returns PulledMessages whose AckHandler the test built, or a
// Subscribe whose handler the test calls itself.
//
//   auto mock = std::make_shared<unibus_mocks::MockSubscriberConnection>();
//   EXPECT_CALL(*mock, Pull).WillOnce(
//       [](std::size_t, absl::Duration) { return std::vector<unibus::PulledMessage>{}; });
//   unibus::Subscriber subscriber(mock);
//
// Needs gMock (GTest::gmock); the unibus library itself does not.
#ifndef UNIBUS_MOCKS_MOCK_SUBSCRIBER_CONNECTION_H_
#define UNIBUS_MOCKS_MOCK_SUBSCRIBER_CONNECTION_H_

#include <gmock/gmock.h>

#include <cstddef>
#include <vector>

#include "unibus/subscriber.h"

namespace unibus_mocks {

class MockSubscriberConnection : public unibus::SubscriberConnection {
 public:
  MOCK_METHOD(absl::StatusOr<unibus::Session>, Subscribe, (unibus::MessageHandler handler),
              (override));
  MOCK_METHOD(absl::StatusOr<std::vector<unibus::PulledMessage>>, Pull,
              (std::size_t max_messages, absl::Duration timeout), (override));
  MOCK_METHOD(unibus::SubscriberStats, stats, (), (const, override));
  MOCK_METHOD(void, Shutdown, (), (override));
};

// What runs behind a Session: wrap it in unibus::Session(std::make_unique<...>()).
class MockSessionImpl : public unibus::SessionImpl {
 public:
  MOCK_METHOD(void, Stop, (), (override));
  MOCK_METHOD(absl::Status, Wait, (absl::Duration timeout), (override));
};

}  // namespace unibus_mocks

#endif  // UNIBUS_MOCKS_MOCK_SUBSCRIBER_CONNECTION_H_
