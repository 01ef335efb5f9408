// What the kafka:// backend's parts share: owned librdkafka handles, the resolved
// client configuration, and the translation of librdkafka errors to absl::Status.
#ifndef UNIBUS_KAFKA_COMMON_H_
#define UNIBUS_KAFKA_COMMON_H_

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/url.h"
#include "spdlog/common.h"
#include "unibus/options.h"

namespace spdlog {
class logger;
}

namespace unibus::kafka_internal {

// Owns a librdkafka object: std::unique_ptr<T, CDeleter<rd_kafka_T_destroy>>.
template <auto Destroy>
struct CDeleter {
  template <typename T>
  void operator()(T* p) const {
    Destroy(p);
  }
};
template <typename T, auto Destroy>
using CPtr = std::unique_ptr<T, CDeleter<Destroy>>;

using RdKafkaPtr = CPtr<rd_kafka_t, rd_kafka_destroy>;
using ConfPtr = CPtr<rd_kafka_conf_t, rd_kafka_conf_destroy>;
using PartitionListPtr =
    CPtr<rd_kafka_topic_partition_list_t, rd_kafka_topic_partition_list_destroy>;
using TopicPtr = CPtr<rd_kafka_topic_t, rd_kafka_topic_destroy>;
using QueuePtr = CPtr<rd_kafka_queue_t, rd_kafka_queue_destroy>;
using EventPtr = CPtr<rd_kafka_event_t, rd_kafka_event_destroy>;
using MessagePtr = CPtr<rd_kafka_message_t, rd_kafka_message_destroy>;
using ErrorPtr = CPtr<rd_kafka_error_t, rd_kafka_error_destroy>;
using AdminOptionsPtr = CPtr<rd_kafka_AdminOptions_t, rd_kafka_AdminOptions_destroy>;
using MetadataPtr = CPtr<const rd_kafka_metadata_t, rd_kafka_metadata_destroy>;
using NewTopicPtr = CPtr<rd_kafka_NewTopic_t, rd_kafka_NewTopic_destroy>;
using DeleteTopicPtr = CPtr<rd_kafka_DeleteTopic_t, rd_kafka_DeleteTopic_destroy>;
using ConfigResourcePtr = CPtr<rd_kafka_ConfigResource_t, rd_kafka_ConfigResource_destroy>;

// The opaque every client of ours carries (rd_kafka_opaque): where librdkafka's
// log lines go, and the object the client's callbacks belong to. Must outlive the
// rd_kafka_t (declare it before the RdKafkaPtr member).
struct ClientOpaque {
  spdlog::logger* logger = nullptr;
  void* owner = nullptr;
};

// A kafka:// URL and BrokerOptions resolved into librdkafka properties.
struct ClientConfig {
  std::string url;        // for messages: kafka://HOSTS, secrets redacted
  std::string bootstrap;  // bootstrap.servers
  // Everything passed through to librdkafka, in increasing precedence:
  // config_file, URL query parameters, BrokerOptions::properties.
  std::map<std::string, std::string> properties;
  BrokerOptions options;
};

// The spdlog level a librdkafka log line of syslog `level` (0-7) from `facility` is
// logged at: errors at err, warnings at warn, notices and info at info, debug at debug.
// One warning is info: an idempotent producer's "Failed to acquire idempotence PID ...
// Coordinator load in progress: retrying" (facility GETPID), which every fresh cluster
// gives while its transaction coordinator loads and librdkafka retries. (Every such
// line, not only the first: a coordinator that never loads shows as publishes failing
// at message.timeout.ms, with their own error.)
spdlog::level::level_enum LogLevelOf(int level, absl::string_view facility, absl::string_view text);

// Resolves `url` (kafka://HOST:PORT[,HOST:PORT...]?k=v&config_file=PATH) and
// `options`. InvalidArgument for an empty host list or a malformed properties file
// (with its line number), NotFound for a config_file that cannot be read.
// InvalidArgument unless each entry of a bootstrap list ("h1:9092,h2:9092") is
// [LISTENER://]HOST[:PORT] with a port from 1 to 65535, with no user:password@ (which
// librdkafka would take as part of the host name, and print). `url` is for the message,
// redacted.
absl::Status CheckBootstrap(absl::string_view bootstrap, absl::string_view url);

absl::StatusOr<ClientConfig> ResolveConfig(const core_internal::Url& url,
                                           const BrokerOptions& options);

// Builds a librdkafka configuration: `defaults`, then the user's properties, then
// `forced` (settings the backend's correctness depends on). librdkafka's own log
// lines go to options.logger (or nowhere), never to stderr. InvalidArgument naming
// a property librdkafka rejects.
// `opaque` (may be null) becomes the client's rd_kafka_opaque.
absl::StatusOr<ConfPtr> MakeConf(const ClientConfig& config,
                                 const std::map<std::string, std::string>& defaults,
                                 const std::map<std::string, std::string>& forced,
                                 ClientOpaque* opaque);

// Creates a client of `type` from `conf` (which it takes).
absl::StatusOr<RdKafkaPtr> MakeClient(rd_kafka_type_t type, ConfPtr conf,
                                      const ClientConfig& config);

// The absl::StatusCode that means the same as `err` on every backend.
absl::StatusCode CodeOf(rd_kafka_resp_err_t err);

// `context`: what failed, e.g. "publish to 'orders' on kafka://h:9092".
absl::Status ToStatus(rd_kafka_resp_err_t err, absl::string_view context);

// PermissionDenied for a broker's TOPIC_, GROUP_ or CLUSTER_AUTHORIZATION_FAILED, in
// Kafka's ACL terms: the principal (User:<sasl.username>), the operation it lacks on
// the resource (resource type TOPIC/GROUP/CLUSTER and its name) and the kafka-acls
// command that grants it. `purpose` (may be empty) follows the operation, e.g.
// " (to consume)". Other errors: ToStatus(err, context).
absl::Status AuthorizationError(const ClientConfig& config, absl::string_view context,
                                rd_kafka_resp_err_t err, absl::string_view operation,
                                absl::string_view resource, absl::string_view purpose = "");

// Unauthenticated for a failed SASL/SSL handshake (`detail`: librdkafka's reason),
// saying which settings to check. Never holds a secret.
absl::Status AuthenticationError(const ClientConfig& config, absl::string_view detail);

// "PARTITION-OFFSET": a message id unique within its topic.
std::string MessageIdOf(std::int32_t partition, std::int64_t offset);

}  // namespace unibus::kafka_internal

#endif  // UNIBUS_KAFKA_COMMON_H_
