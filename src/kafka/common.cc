#include "kafka/common.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "kafka/properties.h"
#include "spdlog/logger.h"

namespace unibus::kafka_internal {
namespace {

// librdkafka log callback: its syslog levels onto the caller's logger.
void LogToSpdlog(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  auto* opaque = static_cast<ClientOpaque*>(rd_kafka_opaque(rk));
  if (opaque == nullptr || opaque->logger == nullptr) return;
  opaque->logger->log(LogLevelOf(level, fac, buf), "librdkafka {} {}: {}", rd_kafka_name(rk), fac,
                      buf);
}

}  // namespace

spdlog::level::level_enum LogLevelOf(int level, absl::string_view facility,
                                     absl::string_view text) {
  if (level == 4 && facility == "GETPID" &&
      absl::StrContains(text, "Coordinator load in progress") && absl::EndsWith(text, "retrying")) {
    return spdlog::level::info;
  }
  return level <= 3   ? spdlog::level::err
         : level == 4 ? spdlog::level::warn
         : level <= 6 ? spdlog::level::info
                      : spdlog::level::debug;
}

absl::StatusOr<ClientConfig> ResolveConfig(const core_internal::Url& url,
                                           const BrokerOptions& options) {
  ClientConfig c;
  c.options = options;
  c.bootstrap = url.body;
  while (!c.bootstrap.empty() && c.bootstrap.back() == '/') c.bootstrap.pop_back();
  c.url = absl::StrCat("kafka://", c.bootstrap);
  std::map<std::string, std::string> merged;
  std::string config_file;
  if (auto it = url.query.find("config_file"); it != url.query.end()) config_file = it->second;
  if (auto it = options.properties.find("config_file"); it != options.properties.end())
    config_file = it->second;
  if (!config_file.empty()) {
    auto props = LoadPropertiesFile(config_file, ProcessEnv());
    if (!props.ok()) return props.status();
    merged = *std::move(props);
  }
  for (const auto& [k, v] : url.query) merged[k] = v;
  for (const auto& [k, v] : options.properties) merged[k] = v;
  merged.erase("config_file");
  if (auto it = merged.find("bootstrap.servers"); it != merged.end()) {
    // A properties file may name the cluster; kafka://?config_file=... then works.
    if (c.bootstrap.empty()) {
      c.bootstrap = it->second;
      c.url = absl::StrCat("kafka://", c.bootstrap);
    }
    merged.erase(it);
  }
  if (c.bootstrap.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kafka URL '", core_internal::RedactUrl(url.original),
                     "' names no broker; use kafka://HOST:PORT[,HOST:PORT...] or set "
                     "bootstrap.servers in config_file"));
  }
  if (auto s = CheckBootstrap(c.bootstrap, url.original); !s.ok()) return s;
  c.properties = std::move(merged);
  return c;
}

absl::Status CheckBootstrap(absl::string_view bootstrap, absl::string_view url) {
  const std::string shown = core_internal::RedactUrl(std::string{url});
  for (absl::string_view entry : absl::StrSplit(bootstrap, ',', absl::SkipWhitespace())) {
    // librdkafka takes HOST, HOST:PORT, [IPv6]:PORT, a bare IPv6 address, each optionally
    // LISTENER:// and followed by a path it drops, and skips spaces and empty entries.
    entry = absl::StripAsciiWhitespace(entry);
    if (auto sep = entry.find("://"); sep != absl::string_view::npos) entry.remove_prefix(sep + 3);
    if (auto slash = entry.find('/'); slash != absl::string_view::npos)
      entry = entry.substr(0, slash);
    if (absl::StrContains(entry, '@')) {
      // librdkafka would look "user:password@host" up as a host name, and print it.
      return absl::InvalidArgumentError(absl::StrCat(
          "kafka URL '", shown,
          "': Kafka clients take no user:password@ in the broker address; pass credentials as "
          "parameters (kafka://HOST:PORT?security.protocol=SASL_SSL&sasl.mechanism=SCRAM-SHA-512"
          "&sasl.username=USER&sasl.password=PASSWORD) or in a config_file, whose values may be "
          "${ENV} references"));
    }
    absl::string_view host = entry, port;
    if (absl::StartsWith(entry, "[")) {
      const auto close = entry.find(']');
      host = entry.substr(0, close == absl::string_view::npos ? entry.size() : close + 1);
      port = close == absl::string_view::npos ? "" : entry.substr(close + 1);
      if (!port.empty() && !absl::ConsumePrefix(&port, ":")) port = entry;  // junk after ]
    } else if (auto colon = entry.rfind(':');
               colon != absl::string_view::npos && entry.find(':') == colon) {  // not bare IPv6
      host = entry.substr(0, colon);
      port = entry.substr(colon + 1);
    }
    int number = 0;
    const bool port_ok =
        port.empty() || (absl::SimpleAtoi(port, &number) && number >= 1 && number <= 65535 &&
                         port.find_first_not_of("0123456789") == absl::string_view::npos);
    if (host.empty() || !port_ok || (port.empty() && absl::EndsWith(entry, ":"))) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka URL '", shown, "': broker address '", entry,
                       "' is not HOST[:PORT] with a port from 1 to 65535; use "
                       "kafka://HOST:PORT[,HOST:PORT...]"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ConfPtr> MakeConf(const ClientConfig& config,
                                 const std::map<std::string, std::string>& defaults,
                                 const std::map<std::string, std::string>& forced,
                                 ClientOpaque* opaque) {
  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  auto set = [&](const std::string& k, const std::string& v) -> absl::Status {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      // An unknown key may be a mistyped secret (sasl.pasword): its value is hidden too.
      const bool secret =
          core_internal::LooksSecret(k) || absl::StrContains(err, "No such configuration property");
      return absl::InvalidArgumentError(absl::StrCat("Kafka property ", k, "=", secret ? "***" : v,
                                                     " for ", config.url,
                                                     " rejected by librdkafka: ", err));
    }
    return absl::OkStatus();
  };
  if (auto s = set("bootstrap.servers", config.bootstrap); !s.ok()) return s;
  for (const auto& [k, v] : defaults) {
    if (!config.properties.count(k)) {
      if (auto s = set(k, v); !s.ok()) return s;
    }
  }
  for (const auto& [k, v] : config.properties) {
    if (forced.count(k)) continue;
    if (auto s = set(k, v); !s.ok()) return s;
  }
  for (const auto& [k, v] : forced) {
    if (auto s = set(k, v); !s.ok()) return s;
  }
  rd_kafka_conf_set_log_cb(conf.get(), LogToSpdlog);
  rd_kafka_conf_set_opaque(conf.get(), opaque);
  return conf;
}

absl::StatusOr<RdKafkaPtr> MakeClient(rd_kafka_type_t type, ConfPtr conf,
                                      const ClientConfig& config) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof(err));
  if (rk == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create a Kafka client for ", config.url, ": ", err));
  }
  (void)conf.release();  // rd_kafka_new took it
  return RdKafkaPtr(rk);
}

absl::StatusCode CodeOf(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return absl::StatusCode::kOk;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND:
    case RD_KAFKA_RESP_ERR__UNKNOWN_GROUP:
      return absl::StatusCode::kNotFound;
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return absl::StatusCode::kAlreadyExists;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICA_ASSIGNMENT:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_REQUEST:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
      return absl::StatusCode::kInvalidArgument;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_DELEGATION_TOKEN_AUTHORIZATION_FAILED:
      return absl::StatusCode::kPermissionDenied;
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
    case RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE:
    case RD_KAFKA_RESP_ERR__SSL:
      return absl::StatusCode::kUnauthenticated;
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
      return absl::StatusCode::kUnimplemented;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return absl::StatusCode::kDeadlineExceeded;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return absl::StatusCode::kResourceExhausted;
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__DESTROY:
      return absl::StatusCode::kAborted;
    case RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
      return absl::StatusCode::kFailedPrecondition;
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__STATE:
      return absl::StatusCode::kInternal;
    default:
      // Transport, leadership and coordinator errors: retriable.
      return absl::StatusCode::kUnavailable;
  }
}

absl::Status ToStatus(rd_kafka_resp_err_t err, absl::string_view context) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  return absl::Status(CodeOf(err), absl::StrCat(context, ": ", rd_kafka_err2str(err), " (",
                                                rd_kafka_err2name(err), ")"));
}

absl::Status AuthorizationError(const ClientConfig& config, absl::string_view context,
                                rd_kafka_resp_err_t err, absl::string_view operation,
                                absl::string_view resource, absl::string_view purpose) {
  absl::string_view type, flag;
  switch (err) {
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
      type = "TOPIC";
      flag = "--topic ";
      break;
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
      type = "GROUP";
      flag = "--group ";
      break;
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      type = "CLUSTER";
      flag = "--cluster";
      resource = "kafka-cluster";
      break;
    default:
      return ToStatus(err, context);
  }
  std::string principal = "User:ANONYMOUS";
  if (auto it = config.properties.find("sasl.username"); it != config.properties.end()) {
    principal = absl::StrCat("User:", it->second);
  }
  return absl::PermissionDeniedError(absl::StrCat(
      context, ": permission denied (", rd_kafka_err2name(err), "): no ACL allows principal ",
      principal, " operation ", operation, " on resource type ", type, " '", resource, "'", purpose,
      "; a super user can grant it: kafka-acls --bootstrap-server ", config.bootstrap,
      " --command-config ADMIN.properties --add --allow-principal ", principal, " --operation ",
      operation, " ", flag, type == "CLUSTER" ? "" : resource));
}

absl::Status AuthenticationError(const ClientConfig& config, absl::string_view detail) {
  auto get = [&](const char* key, absl::string_view fallback) -> std::string {
    auto it = config.properties.find(key);
    return it == config.properties.end() ? static_cast<std::string>(fallback) : it->second;
  };
  const std::string mechanism = get("sasl.mechanisms", "GSSAPI");
  std::string scram_note;
  if (absl::StartsWithIgnoreCase(mechanism, "SCRAM") && rd_kafka_version() < 0x020601ff) {
    scram_note = absl::StrCat(
        "; note: librdkafka ", rd_kafka_version_str(),
        " (before 2.6.1) fails SCRAM against Kafka 4 brokers even with the right password "
        "(librdkafka#4895): there use sasl.mechanisms=PLAIN over SASL_SSL, or a newer librdkafka");
  }
  return absl::UnauthenticatedError(absl::StrCat(
      config.url, ": authentication failed: ", detail,
      " (security.protocol=", get("security.protocol", "plaintext"),
      ", sasl.mechanisms=", mechanism, ", sasl.username=", get("sasl.username", "(none)"),
      "); check sasl.username and sasl.password (URL options or config_file) and that the user "
      "exists on the cluster, or the ssl.* settings for a TLS failure",
      scram_note));
}

std::string MessageIdOf(std::int32_t partition, std::int64_t offset) {
  return absl::StrCat(partition, "-", offset);
}

}  // namespace unibus::kafka_internal
