// Opening a broker by URL.
#ifndef UNIBUS_BROKER_H_
#define UNIBUS_BROKER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "unibus/admin.h"
#include "unibus/capabilities.h"
#include "unibus/export.h"
#include "unibus/options.h"
#include "unibus/publisher.h"
#include "unibus/subscriber.h"

namespace unibus {

// What a backend implements behind Broker. Mockable.
class UNIBUS_EXPORT BrokerConnection {
 public:
  virtual ~BrokerConnection() = default;
  virtual Capabilities capabilities() const = 0;
  virtual absl::StatusOr<std::shared_ptr<PublisherConnection>> MakePublisher(
      const std::string& topic, const PublisherOptions& options) = 0;
  virtual absl::StatusOr<std::shared_ptr<SubscriberConnection>> MakeSubscriber(
      const std::string& subscription, const SubscriberOptions& options) = 0;
  virtual std::shared_ptr<AdminConnection> admin() = 0;
  // The URL this connection was opened with, secrets removed.
  virtual std::string url() const = 0;
};

// The URL used when none is given: $UNIBUS_URL, else sqlite://unibus.db.
UNIBUS_EXPORT std::string DefaultUrl();

// A connection to one broker, picked by URL:
//   mem://[NAME]               in-process; same NAME in one process = same broker
//   sqlite://PATH              embedded, durable, shared by processes on one host
//   kafka://HOST:PORT[,...]    Apache Kafka (query parameters go to librdkafka)
//   pubsub://PROJECT           Google Cloud Pub/Sub (PUBSUB_EMULATOR_HOST honoured)
// A cheap value: copies share the connection. Thread-safe.
class UNIBUS_EXPORT Broker {
 public:
  // Opens `url`. InvalidArgument for an unknown scheme or malformed URL,
  // Unavailable when the broker cannot be reached, FailedPrecondition for a file
  // that is not a unibus database.
  [[nodiscard]] static absl::StatusOr<Broker> Open(const std::string& url,
                                                   BrokerOptions options = {});

  explicit Broker(std::shared_ptr<BrokerConnection> conn) : conn_(std::move(conn)) {}

  // A publisher for `topic`. NotFound when the topic does not exist (unless
  // options.create_topic_if_missing), InvalidArgument for a bad name.
  [[nodiscard]] absl::StatusOr<Publisher> publisher(const std::string& topic,
                                                    PublisherOptions options = {});
  // A subscriber for `subscription`. NotFound when it does not exist and
  // options.topic is empty.
  [[nodiscard]] absl::StatusOr<Subscriber> subscriber(const std::string& subscription,
                                                      SubscriberOptions options = {});
  Admin admin() { return Admin(conn_->admin()); }
  Capabilities capabilities() const { return conn_->capabilities(); }
  std::string url() const { return conn_->url(); }
  std::shared_ptr<BrokerConnection> connection() const { return conn_; }

 private:
  std::shared_ptr<BrokerConnection> conn_;
};

}  // namespace unibus

#endif  // UNIBUS_BROKER_H_
