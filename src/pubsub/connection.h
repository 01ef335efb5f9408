// What every part of the pubsub:// backend shares: where it connects, the gRPC
// channels and stubs, resource names, and turning grpc::Status into absl::Status
// with a message that says what to do.
#ifndef UNIBUS_PUBSUB_CONNECTION_H_
#define UNIBUS_PUBSUB_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/url.h"
#include "google/pubsub/v1/pubsub.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "unibus/options.h"

namespace unibus::pubsub_internal {

// Where a pubsub:// URL points.
//   pubsub://PROJECT                       PUBSUB_EMULATOR_HOST if set, else Google
//   pubsub://PROJECT?emulator=HOST:PORT    this emulator, whatever the environment
//   pubsub://PROJECT?endpoint=HOST:PORT    another TLS endpoint (regional, private)
//   ...&streams=N                          StreamingPull streams per subscriber (1-64;
//                                          default: one per 100 max outstanding messages, <= 16)
//   ...&ordering=off                       subscriptions this broker creates (also through
//                                          Admin) do not enable message ordering (faster;
//                                          capabilities().ordering is then false)
struct Endpoint {
  std::string project;
  std::string address;      // host:port
  bool emulator = false;    // insecure channel, no credentials
  std::string url;          // for messages: "pubsub://PROJECT"
  std::size_t streams = 0;  // 0: StreamCount's default
  bool ordering = true;     // subscriptions created here enable message ordering
};

// Parses and checks `url`: InvalidArgument for a missing or malformed project ID or
// an unknown query parameter.
absl::StatusOr<Endpoint> ParseEndpoint(const core_internal::Url& url);

// OK for a valid Google Cloud project ID (6-30 of [a-z0-9-], starting with a letter,
// not ending with '-'; or "domain.com:project"). InvalidArgument saying why otherwise.
absl::Status ValidateProject(absl::string_view project);

// Resource names.
std::string ProjectPath(absl::string_view project);
std::string TopicPath(absl::string_view project, absl::string_view topic);
std::string SubscriptionPath(absl::string_view project, absl::string_view subscription);
// The last path element: "projects/p/topics/t" -> "t". Other strings unchanged.
std::string ShortName(absl::string_view path);

// Translates a gRPC failure of `what` (e.g. "publish to topic 'orders'") into an
// absl::Status with the same code (UNAUTHENTICATED becomes PermissionDenied) and a
// message naming the endpoint and what to do.
absl::Status ToStatus(const grpc::Status& status, const Endpoint& endpoint, absl::string_view what);

// True for failures worth retrying: the server or network may recover.
bool IsRetryable(grpc::StatusCode code);

// One open pubsub:// connection: its endpoint, options and the channel credentials.
// Thread-safe; shared by the broker, admin, publishers and subscribers.
class Connection {
 public:
  // Makes the credentials and a first channel, and waits up to
  // options.connect_timeout for it to connect. PermissionDenied when no Google
  // credentials exist (outside the emulator), Unavailable when nothing answers.
  static absl::StatusOr<std::shared_ptr<Connection>> Open(Endpoint endpoint, BrokerOptions options);

  const Endpoint& endpoint() const { return endpoint_; }
  const BrokerOptions& options() const { return options_; }

  // Stubs on the shared channel (admin calls, small publishers).
  google::pubsub::v1::Publisher::Stub& publisher_stub() { return *publisher_; }
  google::pubsub::v1::Subscriber::Stub& subscriber_stub() { return *subscriber_; }

  // A new channel of its own (one per publisher and per subscriber, so that their
  // streams do not queue behind each other on one HTTP/2 connection).
  std::shared_ptr<grpc::Channel> NewChannel() const;

  // Sets a deadline of `timeout` on `ctx`.
  static void SetTimeout(grpc::ClientContext& ctx, absl::Duration timeout);

 private:
  Connection(Endpoint endpoint, BrokerOptions options,
             std::shared_ptr<grpc::ChannelCredentials> creds);

  const Endpoint endpoint_;
  const BrokerOptions options_;
  const std::shared_ptr<grpc::ChannelCredentials> creds_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<google::pubsub::v1::Publisher::Stub> publisher_;
  std::unique_ptr<google::pubsub::v1::Subscriber::Stub> subscriber_;
};

// Pub/Sub's own limits, checked before sending so a bad message fails alone
// instead of failing the whole batch it travels in.
inline constexpr std::size_t kMaxRequestBytes = 10 * 1000 * 1000;
inline constexpr std::size_t kMaxMessagesPerRequest = 1000;
inline constexpr std::size_t kMaxAttributes = 100;
inline constexpr std::size_t kMaxAttributeKeyBytes = 256;
inline constexpr std::size_t kMaxAttributeValueBytes = 1024;
inline constexpr std::size_t kMaxOrderingKeyBytes = 1024;
inline constexpr std::size_t kMaxAckIdsPerRequest = 2500;

}  // namespace unibus::pubsub_internal

#endif  // UNIBUS_PUBSUB_CONNECTION_H_
