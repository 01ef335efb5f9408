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
namespace {

struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* md) const { rd_kafka_metadata_destroy(md); }
};
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;

bool IsUnsupported(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ||
         err == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION;
}

}  // namespace

absl::StatusOr<std::shared_ptr<KafkaAdmin>> KafkaAdmin::Connect(const ClientConfig& config) {
  std::shared_ptr<KafkaAdmin> admin(new KafkaAdmin(config));
  admin->opaque_.logger = config.options.logger.get();
  admin->opaque_.owner = admin.get();
  auto conf = MakeConf(config, {{"client.id", "unibus-admin"}}, {}, &admin->opaque_);
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
      rd_kafka_metadata_destroy(md);
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
    if (code == absl::StatusCode::kUnauthenticated || code == absl::StatusCode::kPermissionDenied) {
      return absl::Status(
          code, absl::StatusCode::kUnauthenticated == code
                    ? absl::StrCat(config_.url, ": authentication failed: ", text,
                                   "; check security.protocol, sasl.mechanisms, sasl.username "
                                   "and sasl.password (or the SSL settings)")
                    : absl::StrCat(config_.url, ": permission denied: ", text));
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
    rd_kafka_NewTopic_t* nt =
        rd_kafka_NewTopic_new("unibus-capability-probe", 1, -1, err, sizeof(err));
    if (nt == nullptr) return;
    AdminOptionsPtr o(rd_kafka_AdminOptions_new(rk_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
    const int timeout = std::min(TimeoutMs(), 3000);
    rd_kafka_AdminOptions_set_request_timeout(o.get(), timeout, err, sizeof(err));
    rd_kafka_AdminOptions_set_validate_only(o.get(), 1, err, sizeof(err));
    QueuePtr q(rd_kafka_queue_new(rk_.get()));
    rd_kafka_CreateTopics(rk_.get(), &nt, 1, o.get(), q.get());
    rd_kafka_NewTopic_destroy(nt);
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
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(config.name.c_str(), std::max(1, config.partitions),
                            config.replication_factor, err, sizeof(err));
  if (nt == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("create topic '", config.name, "' on ", config_.url, ": ", err));
  }
  std::map<std::string, std::string> configs = config.configs;
  if (config.retention > absl::ZeroDuration() && !configs.count("retention.ms")) {
    configs["retention.ms"] = absl::StrCat(absl::ToInt64Milliseconds(config.retention));
  }
  for (const auto& [k, v] : configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  auto ev = Request(RD_KAFKA_ADMIN_OP_CREATETOPICS, "CreateTopics",
                    [&](auto* o, auto* q) { rd_kafka_CreateTopics(rk_.get(), &nt, 1, o, q); });
  rd_kafka_NewTopic_destroy(nt);
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
  rd_kafka_DeleteTopic_t* dt = rd_kafka_DeleteTopic_new(name.c_str());
  auto ev = Request(RD_KAFKA_ADMIN_OP_DELETETOPICS, "DeleteTopics",
                    [&](auto* o, auto* q) { rd_kafka_DeleteTopics(rk_.get(), &dt, 1, o, q); });
  rd_kafka_DeleteTopic_destroy(dt);
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
  rd_kafka_ConfigResource_t* res =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str());
  auto ev = Request(RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, "DescribeConfigs",
                    [&](auto* o, auto* q) { rd_kafka_DescribeConfigs(rk_.get(), &res, 1, o, q); });
  rd_kafka_ConfigResource_destroy(res);
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

absl::StatusOr<std::vector<KafkaAdmin::GroupOffset>> KafkaAdmin::GroupOffsets(
    const std::string& group, const rd_kafka_topic_partition_list_t* partitions,
    const std::string& what) {
  // librdkafka's mock cluster (no admin APIs) never answers DescribeGroups; it has no
  // coordinator to wait for either.
  if (SupportsTopicAdmin()) AwaitCoordinator(group);
  rd_kafka_ListConsumerGroupOffsets_t* req =
      rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), partitions);
  auto ev = Request(
      RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, "OffsetFetch",
      [&](auto* o, auto* q) { rd_kafka_ListConsumerGroupOffsets(rk_.get(), &req, 1, o, q); });
  rd_kafka_ListConsumerGroupOffsets_destroy(req);
  if (!ev.ok()) return ev.status();
  size_t cnt = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
      rd_kafka_event_ListConsumerGroupOffsets_result(ev->get()), &cnt);
  std::vector<GroupOffset> out;
  for (size_t i = 0; i < cnt; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i])) {
      return ToStatus(rd_kafka_error_code(e),
                      absl::StrCat(what, " '", group, "' on ", config_.url));
    }
    const rd_kafka_topic_partition_list_t* l = rd_kafka_group_result_partitions(groups[i]);
    for (int j = 0; l != nullptr && j < l->cnt; ++j) {
      const rd_kafka_topic_partition_t& tp = l->elems[j];
      if (tp.err == RD_KAFKA_RESP_ERR_NO_ERROR && tp.offset >= 0)
        out.push_back({tp.topic, tp.partition, tp.offset});
    }
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::int32_t, std::int64_t>>> KafkaAdmin::CommittedOffsets(
    const std::string& group, const std::string& topic, int partitions) {
  PartitionListPtr parts(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(parts.get(), topic.c_str(), p);
  auto offsets = GroupOffsets(group, parts.get(), "read offsets of group");
  if (!offsets.ok()) return offsets.status();
  std::vector<std::pair<std::int32_t, std::int64_t>> out;
  for (const GroupOffset& g : *offsets) out.emplace_back(g.partition, g.offset);
  return out;
}

void KafkaAdmin::EnsureGroupPosition(const std::string& group, const std::string& topic,
                                     StartPosition start) {
  auto s = CreateSubscription(SubscriptionConfig{.name = group, .topic = topic, .start = start});
  if (!s.ok() && !absl::IsAlreadyExists(s) && config_.options.logger) {
    config_.options.logger->warn("could not fix the start position of new subscription '{}': {}",
                                 group, s.ToString());
  }
}

absl::Status KafkaAdmin::CreateSubscription(const SubscriptionConfig& config) {
  auto m = LookUp(config.topic);
  if (!m.ok()) return m.status();
  // The topic exists (its metadata says so), but a broker that leads one of its
  // partitions, or the group's coordinator, may not have learnt of it yet right after
  // CreateTopics: those answers are retried until connect_timeout.
  const absl::Time deadline = absl::Now() + config_.options.connect_timeout;
  for (;;) {
    rd_kafka_resp_err_t transient = RD_KAFKA_RESP_ERR_NO_ERROR;
    absl::Status s = InitGroupOffsets(config, *m, &transient);
    if (transient == RD_KAFKA_RESP_ERR_NO_ERROR || absl::Now() >= deadline) return s;
    if (config_.options.logger) {
      config_.options.logger->debug("create subscription '{}': {}; retrying", config.name,
                                    rd_kafka_err2str(transient));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

namespace {
// Answers a broker gives while it catches up with a topic or group that exists.
bool IsCatchingUp(rd_kafka_resp_err_t e) {
  switch (e) {
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
      return true;
    default:
      return false;
  }
}
}  // namespace

absl::Status KafkaAdmin::InitGroupOffsets(const SubscriptionConfig& config, const TopicMeta& topic,
                                          rd_kafka_resp_err_t* transient) {
  const TopicMeta* m = &topic;
  auto committed = CommittedOffsets(config.name, config.topic, m->partitions);
  if (!committed.ok()) {
    if (absl::IsUnavailable(committed.status())) {
      *transient = RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    return committed.status();
  }
  if (!committed->empty()) {
    return absl::AlreadyExistsError(absl::StrCat("subscription (consumer group) '", config.name,
                                                 "' already has a position on topic '",
                                                 config.topic, "' on ", config_.url));
  }
  PartitionListPtr offsets(rd_kafka_topic_partition_list_new(m->partitions));
  for (const PartitionInfo& p : m->info) {
    std::int64_t low = 0, high = 0;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk_.get(), config.topic.c_str(),
                                                               p.id, &low, &high, TimeoutMs());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (IsCatchingUp(err)) *transient = err;
      return ToStatus(err,
                      absl::StrCat("read offsets of topic '", config.topic, "' on ", config_.url));
    }
    rd_kafka_topic_partition_list_add(offsets.get(), config.topic.c_str(), p.id)->offset =
        config.start == StartPosition::kEarliest ? low : high;
  }
  rd_kafka_AlterConsumerGroupOffsets_t* req =
      rd_kafka_AlterConsumerGroupOffsets_new(config.name.c_str(), offsets.get());
  auto ev = Request(
      RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, "OffsetCommit",
      [&](auto* o, auto* q) { rd_kafka_AlterConsumerGroupOffsets(rk_.get(), &req, 1, o, q); });
  rd_kafka_AlterConsumerGroupOffsets_destroy(req);
  if (!ev.ok()) return ev.status();
  size_t cnt = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(
      rd_kafka_event_AlterConsumerGroupOffsets_result(ev->get()), &cnt);
  for (size_t i = 0; i < cnt; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i])) {
      if (IsCatchingUp(rd_kafka_error_code(e))) *transient = rd_kafka_error_code(e);
      return ToStatus(rd_kafka_error_code(e),
                      absl::StrCat("create subscription '", config.name, "' on ", config_.url));
    }
    const rd_kafka_topic_partition_list_t* l = rd_kafka_group_result_partitions(groups[i]);
    for (int j = 0; l != nullptr && j < l->cnt; ++j) {
      if (l->elems[j].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (IsCatchingUp(l->elems[j].err)) *transient = l->elems[j].err;
        return ToStatus(l->elems[j].err, absl::StrCat("create subscription '", config.name, "' on ",
                                                      config_.url, " (commit its start offsets)"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status KafkaAdmin::DeleteSubscription(const std::string& name) {
  // A cluster without the admin APIs (librdkafka's mock) has no DeleteGroups either,
  // and librdkafka 2.0.2 aborts on an unsupported DeleteGroups (enq_once refcount
  // assertion), so do not send it there.
  if (!SupportsTopicAdmin()) return Unsupported("DeleteGroups");
  rd_kafka_DeleteGroup_t* dg = rd_kafka_DeleteGroup_new(name.c_str());
  auto ev = Request(RD_KAFKA_ADMIN_OP_DELETEGROUPS, "DeleteGroups",
                    [&](auto* o, auto* q) { rd_kafka_DeleteGroups(rk_.get(), &dg, 1, o, q); });
  rd_kafka_DeleteGroup_destroy(dg);
  if (!ev.ok()) return ev.status();
  size_t cnt = 0;
  const rd_kafka_group_result_t** groups =
      rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev->get()), &cnt);
  for (size_t i = 0; i < cnt; ++i) {
    const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i]);
    if (e == nullptr) continue;
    const rd_kafka_resp_err_t code = rd_kafka_error_code(e);
    if (code == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
      return absl::NotFoundError(absl::StrCat("subscription (consumer group) '", name,
                                              "' does not exist on ", config_.url));
    }
    if (code == RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP) {
      return absl::FailedPreconditionError(absl::StrCat(
          "subscription '", name, "' on ", config_.url, " still has consumers; stop them first"));
    }
    if (IsUnsupported(code)) return Unsupported("DeleteGroups");
    return ToStatus(code, absl::StrCat("delete subscription '", name, "' on ", config_.url));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> KafkaAdmin::ListSubscriptions() {
  if (!SupportsTopicAdmin()) return Unsupported("ListGroups");
  auto ev = Request(RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, "ListGroups",
                    [&](auto* o, auto* q) { rd_kafka_ListConsumerGroups(rk_.get(), o, q); });
  if (!ev.ok()) return ev.status();
  const rd_kafka_ListConsumerGroups_result_t* res =
      rd_kafka_event_ListConsumerGroups_result(ev->get());
  size_t errs = 0;
  const rd_kafka_error_t** errors = rd_kafka_ListConsumerGroups_result_errors(res, &errs);
  for (size_t i = 0; i < errs; ++i) {
    if (IsUnsupported(rd_kafka_error_code(errors[i]))) return Unsupported("ListGroups");
  }
  size_t cnt = 0;
  const rd_kafka_ConsumerGroupListing_t** groups =
      rd_kafka_ListConsumerGroups_result_valid(res, &cnt);
  std::vector<std::string> out;
  for (size_t i = 0; i < cnt; ++i)
    out.emplace_back(rd_kafka_ConsumerGroupListing_group_id(groups[i]));
  std::sort(out.begin(), out.end());
  if (out.empty() && errs > 0) {
    return ToStatus(rd_kafka_error_code(errors[0]),
                    absl::StrCat("list subscriptions on ", config_.url));
  }
  return out;
}

absl::StatusOr<SubscriptionInfo> KafkaAdmin::DescribeSubscription(const std::string& name) {
  auto offsets = GroupOffsets(name, nullptr, "describe subscription");
  if (!offsets.ok()) return offsets.status();
  SubscriptionInfo info;
  info.name = name;
  std::int64_t backlog = 0;
  for (const GroupOffset& g : *offsets) {
    if (info.topic.empty()) info.topic = g.topic;
    if (info.topic != g.topic) continue;
    SubscriptionPartition part{.partition = g.partition, .committed_offset = g.offset};
    std::int64_t low = 0, high = 0;
    if (rd_kafka_query_watermark_offsets(rk_.get(), g.topic.c_str(), g.partition, &low, &high,
                                         TimeoutMs()) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      part.high_offset = high;
      part.lag = std::max<std::int64_t>(0, high - g.offset);
      if (backlog >= 0) backlog += part.lag;
    } else {
      backlog = -1;
    }
    info.partitions.push_back(part);
  }
  std::sort(info.partitions.begin(), info.partitions.end(),
            [](const auto& a, const auto& b) { return a.partition < b.partition; });
  if (SupportsTopicAdmin()) {
    auto members = GroupMembers(name);
    if (!members.ok()) return members.status();
    info.members = *std::move(members);
  }
  if (info.topic.empty()) {
    return absl::NotFoundError(absl::StrCat("subscription (consumer group) '", name,
                                            "' has no committed offsets on ", config_.url,
                                            "; create it (unibus subscriptions create ", name,
                                            " --topic TOPIC) or set SubscriberOptions::topic"));
  }
  info.backlog = backlog;
  return info;
}

void KafkaAdmin::AwaitCoordinator(const std::string& group) {
  // librdkafka 2.0.2 dereferences a null consumer group when an OffsetFetch sent by an
  // admin client is answered NOT_COORDINATOR (confluentinc/librdkafka#5040), which a
  // real cluster does while the group's coordinator is still loading (the first group
  // of a new cluster, or just after a broker restart). DescribeGroups goes through
  // FindCoordinator and reports those answers as errors, so ask it first until the
  // coordinator answers for the group.
  const absl::Time deadline = absl::Now() + config_.options.connect_timeout;
  const char* groups[] = {group.c_str()};
  for (;;) {
    auto ev = Request(
        RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, "DescribeGroups",
        [&](auto* o, auto* q) { rd_kafka_DescribeConsumerGroups(rk_.get(), groups, 1, o, q); });
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (ev.ok()) {
      size_t cnt = 0;
      const rd_kafka_ConsumerGroupDescription_t** descs =
          rd_kafka_DescribeConsumerGroups_result_groups(
              rd_kafka_event_DescribeConsumerGroups_result(ev->get()), &cnt);
      for (size_t i = 0; i < cnt; ++i) {
        if (const rd_kafka_error_t* e = rd_kafka_ConsumerGroupDescription_error(descs[i])) {
          err = rd_kafka_error_code(e);
        }
      }
    }
    const bool loading = err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
                         err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
                         err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR;
    // Anything else (ready, or a failure such as an unsupported API on librdkafka's
    // mock cluster) is for the OffsetFetch itself to report.
    if (!loading || absl::Now() >= deadline) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

absl::StatusOr<std::vector<std::string>> KafkaAdmin::GroupMembers(const std::string& group) {
  const char* groups[] = {group.c_str()};
  auto ev = Request(
      RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, "DescribeGroups",
      [&](auto* o, auto* q) { rd_kafka_DescribeConsumerGroups(rk_.get(), groups, 1, o, q); });
  if (!ev.ok()) return ev.status();
  size_t cnt = 0;
  const rd_kafka_ConsumerGroupDescription_t** descs = rd_kafka_DescribeConsumerGroups_result_groups(
      rd_kafka_event_DescribeConsumerGroups_result(ev->get()), &cnt);
  std::vector<std::string> out;
  for (size_t i = 0; i < cnt; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_ConsumerGroupDescription_error(descs[i])) {
      return ToStatus(rd_kafka_error_code(e),
                      absl::StrCat("describe subscription '", group, "' on ", config_.url));
    }
    const size_t n = rd_kafka_ConsumerGroupDescription_member_count(descs[i]);
    for (size_t j = 0; j < n; ++j) {
      const rd_kafka_MemberDescription_t* m = rd_kafka_ConsumerGroupDescription_member(descs[i], j);
      out.push_back(absl::StrCat(rd_kafka_MemberDescription_client_id(m), "@",
                                 rd_kafka_MemberDescription_host(m)));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace unibus::kafka_internal
