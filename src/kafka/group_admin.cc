// Consumer-group admin of the kafka:// backend (KafkaAdmin's subscriptions): a
// subscription is a consumer group whose committed offsets say where it reads.
#include <algorithm>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "kafka/admin.h"
#include "spdlog/logger.h"

namespace unibus::kafka_internal {

absl::StatusOr<std::vector<KafkaAdmin::GroupOffset>> KafkaAdmin::GroupOffsets(
    const std::string& group, const rd_kafka_topic_partition_list_t* partitions,
    const std::string& what) {
  // librdkafka's mock cluster (no admin APIs) never answers DescribeGroups; it has no
  // coordinator to wait for either.
  if (SupportsTopicAdmin()) AwaitCoordinator(group);
  CPtr<rd_kafka_ListConsumerGroupOffsets_t, rd_kafka_ListConsumerGroupOffsets_destroy> owned(
      rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), partitions));
  rd_kafka_ListConsumerGroupOffsets_t* req = owned.get();
  auto ev = Request(
      RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, "OffsetFetch",
      [&](auto* o, auto* q) { rd_kafka_ListConsumerGroupOffsets(rk_.get(), &req, 1, o, q); });
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
  CPtr<rd_kafka_AlterConsumerGroupOffsets_t, rd_kafka_AlterConsumerGroupOffsets_destroy> owned(
      rd_kafka_AlterConsumerGroupOffsets_new(config.name.c_str(), offsets.get()));
  rd_kafka_AlterConsumerGroupOffsets_t* req = owned.get();
  auto ev = Request(
      RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, "OffsetCommit",
      [&](auto* o, auto* q) { rd_kafka_AlterConsumerGroupOffsets(rk_.get(), &req, 1, o, q); });
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
  CPtr<rd_kafka_DeleteGroup_t, rd_kafka_DeleteGroup_destroy> owned(
      rd_kafka_DeleteGroup_new(name.c_str()));
  rd_kafka_DeleteGroup_t* dg = owned.get();
  auto ev = Request(RD_KAFKA_ADMIN_OP_DELETEGROUPS, "DeleteGroups",
                    [&](auto* o, auto* q) { rd_kafka_DeleteGroups(rk_.get(), &dg, 1, o, q); });
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
