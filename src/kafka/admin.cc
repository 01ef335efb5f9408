#include "kafka/admin.h"

#include <algorithm>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "spdlog/logger.h"

namespace unibus::kafka_internal {

absl::StatusOr<std::shared_ptr<KafkaAdmin>> KafkaAdmin::Connect(const ClientConfig& config) {
  std::shared_ptr<KafkaAdmin> admin(new KafkaAdmin(config));
  admin->opaque_.logger = config.options.logger.get();
  admin->opaque_.owner = admin.get();
  // Never auto-create: Metadata() asks for a topic by name (see there).
  auto conf = MakeConf(config, {{"client.id", "unibus-admin"}},
                       {{"allow.auto.create.topics", "false"}}, &admin->opaque_);
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_error_cb(conf->get(), &KafkaAdmin::OnError);
  auto rk = MakeClient(RD_KAFKA_PRODUCER, *std::move(conf), config);
  if (!rk.ok()) return rk.status();
  admin->rk_ = *std::move(rk);
  if (auto s = admin->WaitForBroker(); !s.ok()) return s;
  return admin;
}

KafkaAdmin::~KafkaAdmin() = default;

void KafkaAdmin::OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaAdmin*>(static_cast<ClientOpaque*>(opaque)->owner);
  std::lock_guard<std::mutex> lock(self->mu_);
  // An authentication or authorization failure is the answer WaitForBroker reports:
  // librdkafka (2.x) follows it with "all brokers are down", which must not hide it.
  const auto code = CodeOf(static_cast<rd_kafka_resp_err_t>(err));
  const bool verdict =
      code == absl::StatusCode::kUnauthenticated || code == absl::StatusCode::kPermissionDenied;
  const auto held = CodeOf(self->last_error_);
  if (!verdict &&
      (held == absl::StatusCode::kUnauthenticated || held == absl::StatusCode::kPermissionDenied)) {
    return;
  }
  self->last_error_ = static_cast<rd_kafka_resp_err_t>(err);
  self->last_error_text_ = reason;
}

int KafkaAdmin::TimeoutMs() const {
  return static_cast<int>(
      std::max<std::int64_t>(1, absl::ToInt64Milliseconds(config_.options.connect_timeout)));
}

absl::Status KafkaAdmin::WaitForBroker() {
  const absl::Time deadline = absl::Now() + config_.options.connect_timeout;
  for (;;) {
    const rd_kafka_metadata_t* md = nullptr;
    const absl::Duration slice =
        std::min(absl::Milliseconds(250), std::max(deadline - absl::Now(), absl::Milliseconds(1)));
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 0, nullptr, &md,
                                                static_cast<int>(absl::ToInt64Milliseconds(slice)));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      MetadataPtr owned(md);
      return absl::OkStatus();
    }
    rd_kafka_poll(rk_.get(), 0);  // serves the error callback
    rd_kafka_resp_err_t last;
    std::string text;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last = last_error_;
      text = last_error_text_;
    }
    const absl::StatusCode code = CodeOf(last);
    if (code == absl::StatusCode::kUnauthenticated) return AuthenticationError(config_, text);
    if (code == absl::StatusCode::kPermissionDenied) {
      return absl::PermissionDeniedError(absl::StrCat(config_.url, ": permission denied: ", text));
    }
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(
          absl::StrCat(config_.url, ": no broker answered within ",
                       absl::FormatDuration(config_.options.connect_timeout),
                       text.empty() ? "" : absl::StrCat(" (last error: ", text, ")"),
                       "; is Kafka running at ", config_.bootstrap,
                       " and reachable from here? Check the host:port and, for secured clusters, "
                       "security.protocol "
                       "and the sasl.* / ssl.* properties"));
    }
  }
}

absl::StatusOr<EventPtr> KafkaAdmin::Request(
    rd_kafka_admin_op_t type, const std::string& op,
    const std::function<void(rd_kafka_AdminOptions_t*, rd_kafka_queue_t*)>& send) {
  AdminOptionsPtr o(rd_kafka_AdminOptions_new(rk_.get(), type));
  char err[256];
  rd_kafka_AdminOptions_set_request_timeout(o.get(), TimeoutMs(), err, sizeof(err));
  if (type == RD_KAFKA_ADMIN_OP_CREATETOPICS || type == RD_KAFKA_ADMIN_OP_DELETETOPICS) {
    rd_kafka_AdminOptions_set_operation_timeout(o.get(), TimeoutMs(), err, sizeof(err));
  }
  QueuePtr q(rd_kafka_queue_new(rk_.get()));
  send(o.get(), q.get());
  EventPtr ev(rd_kafka_queue_poll(q.get(), TimeoutMs() + 5000));
  if (!ev) {
    return absl::DeadlineExceededError(
        absl::StrCat(op, " on ", config_.url, ": no answer within ",
                     absl::FormatDuration(config_.options.connect_timeout)));
  }
  rd_kafka_resp_err_t e = rd_kafka_event_error(ev.get());
  if (IsUnsupported(e)) return Unsupported(op);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::Status(CodeOf(e), absl::StrCat(op, " on ", config_.url, ": ",
                                                rd_kafka_event_error_string(ev.get())));
  }
  return ev;
}

absl::Status KafkaAdmin::TopicResult(const rd_kafka_topic_result_t** results, size_t cnt,
                                     const std::string& op, const std::string& what,
                                     const std::string& topic) {
  if (cnt != 1) return absl::InternalError(absl::StrCat(op, " returned no result"));
  const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[0]);
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    return absl::AlreadyExistsError(
        absl::StrCat("topic '", topic, "' already exists on ", config_.url));
  }
  if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    return absl::NotFoundError(absl::StrCat("topic '", topic, "' does not exist on ", config_.url));
  }
  if (IsUnsupported(e)) return Unsupported(op);
  return absl::Status(CodeOf(e), absl::StrCat(what, " '", topic, "' on ", config_.url, ": ",
                                              rd_kafka_topic_result_error_string(results[0])));
}

absl::Status KafkaAdmin::Unsupported(const std::string& op) const {
  return absl::UnimplementedError(absl::StrCat(
      "the Kafka server at ", config_.url, " does not support ", op,
      " (librdkafka's mock cluster, e.g. `unibus kafka-mock`, lacks it)",
      absl::StrContains(op, "CreateTopics") ? "; create topics with `unibus kafka-mock --topic "
                                              "NAME:PARTITIONS` or rely on the broker's "
                                              "auto-create"
                                            : ""));
}

bool KafkaAdmin::SupportsTopicAdmin() {
  std::call_once(probe_once_, [this] {
    // One probe per cluster and process: a validate-only CreateTopics. librdkafka's
    // mock cluster lacks the API and also names no controller, so the request
    // either fails as unsupported or times out waiting for a controller; a real
    // cluster answers at once (even with an error such as a policy violation).
    static std::mutex cache_mu;
    static auto* cache = new std::map<std::string, bool>;
    {
      std::lock_guard<std::mutex> lock(cache_mu);
      if (auto it = cache->find(config_.bootstrap); it != cache->end()) {
        topic_admin_ = it->second;
        return;
      }
    }
    char err[256];
    NewTopicPtr probe(rd_kafka_NewTopic_new("unibus-capability-probe", 1, -1, err, sizeof(err)));
    if (probe == nullptr) return;
    rd_kafka_NewTopic_t* nt = probe.get();
    AdminOptionsPtr o(rd_kafka_AdminOptions_new(rk_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
    const int timeout = std::min(TimeoutMs(), 3000);
    rd_kafka_AdminOptions_set_request_timeout(o.get(), timeout, err, sizeof(err));
    rd_kafka_AdminOptions_set_validate_only(o.get(), 1, err, sizeof(err));
    QueuePtr q(rd_kafka_queue_new(rk_.get()));
    rd_kafka_CreateTopics(rk_.get(), &nt, 1, o.get(), q.get());
    EventPtr ev(rd_kafka_queue_poll(q.get(), timeout + 2000));
    bool supported = true;
    if (!ev) {
      supported = false;
    } else {
      rd_kafka_resp_err_t e = rd_kafka_event_error(ev.get());
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        size_t cnt = 0;
        const rd_kafka_topic_result_t** results =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev.get()), &cnt);
        if (cnt == 1) e = rd_kafka_topic_result_error(results[0]);
      }
      const char* text = rd_kafka_event_error_string(ev.get());
      if (IsUnsupported(e) || (e == RD_KAFKA_RESP_ERR__TIMED_OUT && text != nullptr &&
                               absl::StrContains(text, "controller"))) {
        supported = false;
      }
    }
    topic_admin_ = supported;
    std::lock_guard<std::mutex> lock(cache_mu);
    (*cache)[config_.bootstrap] = supported;
  });
  return topic_admin_;
}

absl::Status KafkaAdmin::CreateTopic(const TopicConfig& config) {
  if (!SupportsTopicAdmin()) return Unsupported("CreateTopics");
  char err[512];
  NewTopicPtr owned(rd_kafka_NewTopic_new(config.name.c_str(), std::max(1, config.partitions),
                                          config.replication_factor, err, sizeof(err)));
  rd_kafka_NewTopic_t* nt = owned.get();
  if (nt == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("create topic '", config.name, "' on ", config_.url, ": ", err));
  }
  std::map<std::string, std::string> configs = config.configs;
  if (config.retention > absl::ZeroDuration() && !configs.count("retention.ms")) {
    configs["retention.ms"] = absl::StrCat(absl::ToInt64Milliseconds(config.retention));
  }
  for (const auto& [k, v] : configs) {
    if (rd_kafka_resp_err_t e = rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
        e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::InvalidArgumentError(absl::StrCat("create topic '", config.name, "' on ",
                                                     config_.url, ": config '", k,
                                                     "': ", rd_kafka_err2str(e)));
    }
  }
  auto ev = Request(RD_KAFKA_ADMIN_OP_CREATETOPICS, "CreateTopics",
                    [&](auto* o, auto* q) { rd_kafka_CreateTopics(rk_.get(), &nt, 1, o, q); });
  if (!ev.ok()) return ev.status();
  size_t cnt = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev->get()), &cnt);
  if (cnt == 1) {
    const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[0]);
    const char* text = rd_kafka_topic_result_error_string(results[0]);
    const std::string server = text != nullptr ? text : rd_kafka_err2str(e);
    const std::string what =
        absl::StrCat("create topic '", config.name, "' on ", config_.url, ": ");
    if (e == RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR) {
      const int brokers = BrokerCount();
      return absl::InvalidArgumentError(
          absl::StrCat(what, "replication factor ",
                       config.replication_factor > 0 ? absl::StrCat(config.replication_factor)
                                                     : "(the brokers' default.replication.factor)",
                       " is more than the ", brokers, " broker(s) available; use at most ", brokers,
                       " (server: ", server, ")"));
    }
    if (e == RD_KAFKA_RESP_ERR_INVALID_CONFIG) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, "the server refused a topic config: ", server,
                       "; see the topic configs of Apache Kafka's documentation"));
    }
    if (e == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION && absl::StrContains(server, "collides")) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, server,
          "; Kafka treats '.' and '_' in topic names as the same character (their metrics "
          "names would clash), so choose a name that differs in another way"));
    }
  }
  if (auto s = TopicResult(results, cnt, "CreateTopics", "create topic", config.name); !s.ok()) {
    return s;
  }
  return AwaitTopic(config.name, /*present=*/true);
}

int KafkaAdmin::BrokerCount() {
  const rd_kafka_metadata_t* raw = nullptr;
  if (rd_kafka_metadata(rk_.get(), 0, nullptr, &raw, TimeoutMs()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return -1;
  }
  MetadataPtr md(raw);
  return md->broker_cnt;
}

absl::Status KafkaAdmin::AwaitTopic(const std::string& topic, bool present) {
  // The controller answers CreateTopics / DeleteTopics once the change is committed;
  // the brokers learn it a moment later. Wait until metadata agrees, so the next call
  // (a publisher on the new topic, a new topic of the same name) sees it.
  // A metadata request goes to one broker picked at random, so the change must show in
  // several answers in a row (twice the broker count) before every broker is likely to
  // have it.
  const absl::Time deadline = absl::Now() + config_.options.connect_timeout;
  // Under load a broker can lag the others by a few hundred milliseconds, so the
  // answers must also agree for kSettle.
  constexpr absl::Duration kSettle = absl::Milliseconds(500);
  const int want = 2 * std::max(1, BrokerCount());
  int seen = 0;
  absl::Time first_seen;
  for (;;) {
    auto m = Metadata(topic);
    const bool done = present ? m.ok() && std::all_of(m->info.begin(), m->info.end(),
                                                      [](const auto& p) { return p.leader >= 0; })
                              : absl::IsNotFound(m.status());
    if (done && seen == 0) first_seen = absl::Now();
    seen = done ? seen + 1 : 0;
    if (seen >= want && absl::Now() - first_seen >= kSettle) return absl::OkStatus();
    if (done && seen < want) continue;
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("topic '", topic, "' was ", present ? "created" : "deleted", " on ",
                       config_.url, " but the brokers' metadata did not show it within ",
                       absl::FormatDuration(config_.options.connect_timeout), "; try again"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

absl::Status KafkaAdmin::DeleteTopic(const std::string& name) {
  if (!SupportsTopicAdmin()) return Unsupported("DeleteTopics");
  DeleteTopicPtr owned(rd_kafka_DeleteTopic_new(name.c_str()));
  rd_kafka_DeleteTopic_t* dt = owned.get();
  auto ev = Request(RD_KAFKA_ADMIN_OP_DELETETOPICS, "DeleteTopics",
                    [&](auto* o, auto* q) { rd_kafka_DeleteTopics(rk_.get(), &dt, 1, o, q); });
  if (!ev.ok()) return ev.status();
  size_t cnt = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev->get()), &cnt);
  if (auto s = TopicResult(results, cnt, "DeleteTopics", "delete topic", name); !s.ok()) return s;
  return AwaitTopic(name, /*present=*/false);
}

absl::StatusOr<std::vector<std::string>> KafkaAdmin::ListTopics() {
  const rd_kafka_metadata_t* raw = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 1, nullptr, &raw, TimeoutMs());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return ToStatus(err, absl::StrCat("list topics on ", config_.url));
  MetadataPtr md(raw);
  std::vector<std::string> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR || absl::StartsWith(t.topic, "__"))
      continue;  // internal
    out.emplace_back(t.topic);
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<KafkaAdmin::TopicMeta> KafkaAdmin::Metadata(const std::string& topic) {
  // All topics, not just `topic`: asking for one may auto-create it on the broker.
  const rd_kafka_metadata_t* raw = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 1, nullptr, &raw, TimeoutMs());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return ToStatus(err, absl::StrCat("look up topic '", topic, "' on ", config_.url));
  }
  MetadataPtr md(raw);
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (topic != t.topic) continue;
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) break;
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return ToStatus(t.err, absl::StrCat("look up topic '", topic, "' on ", config_.url));
    }
    TopicMeta m;
    m.partitions = t.partition_cnt;
    for (int p = 0; p < t.partition_cnt; ++p) {
      m.replication = std::max(m.replication, t.partitions[p].replica_cnt);
      const rd_kafka_metadata_partition_t& mp = t.partitions[p];
      PartitionInfo info{.id = mp.id, .leader = mp.leader};
      info.replicas.assign(mp.replicas, mp.replicas + mp.replica_cnt);
      info.in_sync_replicas.assign(mp.isrs, mp.isrs + mp.isr_cnt);
      m.info.push_back(std::move(info));
    }
    std::sort(m.info.begin(), m.info.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    return m;
  }
  // With ACLs a broker leaves out of the list of all topics those the principal may
  // not DESCRIBE; asked for one by name, it says so. This client never asks a broker
  // to auto-create (allow.auto.create.topics=false), but librdkafka's mock cluster
  // creates any topic asked for by name, so only a real cluster is asked.
  TopicPtr rkt(SupportsTopicAdmin() ? rd_kafka_topic_new(rk_.get(), topic.c_str(), nullptr)
                                    : nullptr);
  const rd_kafka_metadata_t* one = nullptr;
  if (rkt &&
      rd_kafka_metadata(rk_.get(), 0, rkt.get(), &one, TimeoutMs()) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    MetadataPtr owned(one);
    for (int i = 0; i < one->topic_cnt; ++i) {
      if (topic == one->topics[i].topic &&
          CodeOf(one->topics[i].err) == absl::StatusCode::kPermissionDenied) {
        return AuthorizationError(config_,
                                  absl::StrCat("look up topic '", topic, "' on ", config_.url),
                                  one->topics[i].err, "READ", topic,
                                  " (to consume; WRITE to publish; either includes the DESCRIBE "
                                  "that finding the topic needs)");
      }
    }
  }
  return absl::NotFoundError(absl::StrCat("topic '", topic, "' does not exist on ", config_.url,
                                          "; create it first (unibus topics create ", topic, ")"));
}

absl::StatusOr<KafkaAdmin::TopicMeta> KafkaAdmin::LookUp(const std::string& topic) {
  // A metadata request goes to one broker picked at random, and a broker learns a
  // topic created elsewhere a moment after the controller (AwaitTopic makes that
  // unlikely, not impossible: on a loaded machine a broker lagged more than 250 ms).
  // So on a cluster with the admin APIs (a real one) a NotFound is believed only after
  // it has held for kTopicPropagation, as librdkafka's producer does for an unknown
  // topic (topic.metadata.propagation.max.ms). librdkafka's mock cluster has no such
  // lag and answers at once.
  constexpr absl::Duration kTopicPropagation = absl::Seconds(3);
  auto m = Metadata(topic);
  if (!absl::IsNotFound(m.status()) || !SupportsTopicAdmin()) return m;
  const absl::Time deadline = absl::Now() + kTopicPropagation;
  while (absl::IsNotFound(m.status()) && absl::Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    m = Metadata(topic);
  }
  return m;
}

absl::Status KafkaAdmin::CheckTopic(const std::string& topic) { return LookUp(topic).status(); }

absl::StatusOr<TopicInfo> KafkaAdmin::DescribeTopic(const std::string& name) {
  auto m = LookUp(name);
  if (!m.ok()) return m.status();
  TopicInfo info;
  info.name = name;
  info.partitions = m->partitions;
  info.replication_factor = m->replication;
  info.messages = 0;
  for (PartitionInfo& p : m->info) {
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        rk_.get(), name.c_str(), p.id, &p.low_offset, &p.high_offset, TimeoutMs());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      info.messages = -1;
    } else if (info.messages >= 0) {
      info.messages += p.high_offset - p.low_offset;
    }
  }
  info.partition_info = m->info;
  // Retention from the topic's configs, where the server can describe them.
  ConfigResourcePtr owned(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str()));
  rd_kafka_ConfigResource_t* res = owned.get();
  auto ev = Request(RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, "DescribeConfigs",
                    [&](auto* o, auto* q) { rd_kafka_DescribeConfigs(rk_.get(), &res, 1, o, q); });
  if (ev.ok()) {
    size_t cnt = 0;
    const rd_kafka_ConfigResource_t** rs = rd_kafka_DescribeConfigs_result_resources(
        rd_kafka_event_DescribeConfigs_result(ev->get()), &cnt);
    for (size_t i = 0; i < cnt; ++i) {
      size_t n = 0;
      const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(rs[i], &n);
      for (size_t j = 0; j < n; ++j) {
        const char* value = rd_kafka_ConfigEntry_value(entries[j]);
        const std::string_view key = rd_kafka_ConfigEntry_name(entries[j]);
        std::int64_t ms = 0;
        if (value != nullptr && key == "retention.ms" && absl::SimpleAtoi(value, &ms) && ms > 0) {
          info.retention = absl::Milliseconds(ms);
        }
        if (value != nullptr && !rd_kafka_ConfigEntry_is_default(entries[j]) &&
            !rd_kafka_ConfigEntry_is_sensitive(entries[j])) {
          info.configs.emplace(key, value);
        }
      }
    }
  }
  return info;
}

}  // namespace unibus::kafka_internal
