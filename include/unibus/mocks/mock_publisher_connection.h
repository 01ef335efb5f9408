// A gMock PublisherConnection, to test code that publishes without a broker:
//
//   auto mock = std::make_shared<unibus_mocks::MockPublisherConnection>();
//   EXPECT_CALL(*mock, Publish).WillOnce([](unibus::Message) {
//     return unibus::MakeReadyFuture<absl::StatusOr<unibus::MessageId>>(
//         unibus::MessageId("id-1"));
//   });
//   unibus::Publisher publisher(mock);
//
// Needs gMock (GTest::gmock); the unibus library itself does not.
#ifndef UNIBUS_MOCKS_MOCK_PUBLISHER_CONNECTION_H_
#define UNIBUS_MOCKS_MOCK_PUBLISHER_CONNECTION_H_

#include <gmock/gmock.h>

#include <string>

#include "unibus/publisher.h"

namespace unibus_mocks {

class MockPublisherConnection : public unibus::PublisherConnection {
 public:
  MOCK_METHOD(unibus::PublishFuture, Publish, (unibus::Message m), (override));
  MOCK_METHOD(absl::Status, Flush, (), (override));
  MOCK_METHOD(void, Shutdown, (), (override));
  MOCK_METHOD(void, ResumePublish, (const std::string& ordering_key), (override));
};

}  // namespace unibus_mocks

#endif  // UNIBUS_MOCKS_MOCK_PUBLISHER_CONNECTION_H_
