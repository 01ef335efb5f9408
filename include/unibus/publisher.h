// Publishing messages to a topic.
#ifndef UNIBUS_PUBLISHER_H_
#define UNIBUS_PUBLISHER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "unibus/future.h"
#include "unibus/message.h"

namespace unibus {

using MessageId = std::string;
using PublishFuture = Future<absl::StatusOr<MessageId>>;

// What a backend implements behind Publisher. Mockable.
class PublisherConnection {
 public:
  virtual ~PublisherConnection() = default;
  virtual PublishFuture Publish(Message m) = 0;
  virtual absl::Status Flush() = 0;
  // Rejects new publishes, sends what is pending, joins the library's threads.
  virtual void Shutdown() = 0;
};

// Publishes to one topic. A cheap value: copies share one connection, batching and
// background thread. Thread-safe.
class Publisher {
 public:
  explicit Publisher(std::shared_ptr<PublisherConnection> conn) : conn_(std::move(conn)) {}

  // Queues `m` for the next batch. The future holds the broker-assigned id once the
  // broker has the message durably (as durable as the backend is), or the error:
  // NotFound (topic missing), InvalidArgument (too large), Unavailable, ...
  // Never blocks on the network; blocks only while max_pending_messages are unsent.
  PublishFuture Publish(Message m) { return conn_->Publish(std::move(m)); }

  // Blocks until every message published before this call has its result. Returns
  // the first error among them, if any.
  [[nodiscard]] absl::Status Flush() { return conn_->Flush(); }

  std::shared_ptr<PublisherConnection> connection() const { return conn_; }

 private:
  std::shared_ptr<PublisherConnection> conn_;
};

}  // namespace unibus

#endif  // UNIBUS_PUBLISHER_H_
