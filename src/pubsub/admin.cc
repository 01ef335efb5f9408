#include "pubsub/admin.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace unibus::pubsub_internal {
namespace {

namespace v1 = google::pubsub::v1;
using google::protobuf::util::TimeUtil;

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::Status WithHint(absl::Status s, absl::string_view hint) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(s.message(), "; ", hint));
}

}  // namespace

absl::Status PubsubAdmin::CreateTopic(const TopicConfig& c) {
  if (!c.configs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("topic '", c.name, "': pubsub:// takes no backend topic configs (got '",
                     c.configs.begin()->first, "'); use TopicConfig::retention"));
  }
  v1::Topic topic;
  topic.set_name(TopicPath(conn_->endpoint().project, c.name));
  // Always some retention: without it a new subscription at kEarliest could not
  // replay anything, unlike on every other backend.
  const absl::Duration retention =
      c.retention > absl::ZeroDuration() ? c.retention : kDefaultTopicRetention;
  if (retention < absl::Minutes(10) || retention > absl::Hours(24 * 31)) {
    return absl::InvalidArgumentError(
        absl::StrCat("topic '", c.name, "': retention ", absl::FormatDuration(retention),
                     " is outside Pub/Sub's range of 10 minutes to 31 days"));
  }
  topic.mutable_message_retention_duration()->set_seconds(absl::ToInt64Seconds(retention));
  grpc::ClientContext ctx;
  Connection::SetTimeout(ctx, conn_->options().connect_timeout);
  v1::Topic out;
  return ToStatus(conn_->publisher_stub().CreateTopic(&ctx, topic, &out), conn_->endpoint(),
                  absl::StrCat("creating topic '", c.name, "'"));
}

absl::Status PubsubAdmin::DeleteTopic(const std::string& name) {
  v1::DeleteTopicRequest req;
  req.set_topic(TopicPath(conn_->endpoint().project, name));
  grpc::ClientContext ctx;
  Connection::SetTimeout(ctx, conn_->options().connect_timeout);
  google::protobuf::Empty out;
  return ToStatus(conn_->publisher_stub().DeleteTopic(&ctx, req, &out), conn_->endpoint(),
                  absl::StrCat("deleting topic '", name, "'"));
}

absl::StatusOr<std::vector<std::string>> PubsubAdmin::ListTopics() {
  std::vector<std::string> out;
  v1::ListTopicsRequest req;
  req.set_project(ProjectPath(conn_->endpoint().project));
  req.set_page_size(1000);
  do {
    grpc::ClientContext ctx;
    Connection::SetTimeout(ctx, conn_->options().connect_timeout);
    v1::ListTopicsResponse resp;
    auto s = conn_->publisher_stub().ListTopics(&ctx, req, &resp);
    if (!s.ok()) return ToStatus(s, conn_->endpoint(), "listing topics");
    for (const auto& t : resp.topics()) out.push_back(ShortName(t.name()));
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<TopicInfo> PubsubAdmin::DescribeTopic(const std::string& name) {
  v1::GetTopicRequest req;
  req.set_topic(TopicPath(conn_->endpoint().project, name));
  grpc::ClientContext ctx;
  Connection::SetTimeout(ctx, conn_->options().connect_timeout);
  v1::Topic t;
  auto s = conn_->publisher_stub().GetTopic(&ctx, req, &t);
  if (!s.ok()) {
    return WithHint(ToStatus(s, conn_->endpoint(), absl::StrCat("describing topic '", name, "'")),
                    absl::StrCat("create it with `unibus topics create ", name, " --url ",
                                 conn_->endpoint().url, "`"));
  }
  TopicInfo info;
  info.name = name;
  info.partitions = 1;
  info.replication_factor = 1;
  info.retention = FromProto(t.message_retention_duration());
  return info;
}

absl::Status PubsubAdmin::CreateSubscription(const SubscriptionConfig& c) {
  const std::string& project = conn_->endpoint().project;
  v1::Subscription sub;
  sub.set_name(SubscriptionPath(project, c.name));
  sub.set_topic(TopicPath(project, c.topic));
  sub.set_ack_deadline_seconds(
      static_cast<int>(std::clamp<std::int64_t>(absl::ToInt64Seconds(c.ack_deadline), 10, 600)));
  // The URL's ordering=off holds for every subscription this broker creates,
  // including through Admin (capabilities().ordering is false then).
  sub.set_enable_message_ordering(c.message_ordering && conn_->endpoint().ordering);
  if (!c.dead_letter_topic.empty()) {
    sub.mutable_dead_letter_policy()->set_dead_letter_topic(
        TopicPath(project, c.dead_letter_topic));
    sub.mutable_dead_letter_policy()->set_max_delivery_attempts(
        std::clamp(c.max_delivery_attempts, 5, 100));
  }
  // The topic's retention decides what "earliest" can reach.
  auto topic = DescribeTopic(c.topic);
  if (!topic.ok()) return topic.status();
  if (c.start == StartPosition::kEarliest && topic->retention <= absl::ZeroDuration()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "subscription '", c.name, "' cannot start at the earliest message of topic '", c.topic,
        "' in ", conn_->endpoint().url,
        ": the topic has no message retention, so nothing published before the subscription "
        "exists can be replayed; give the topic retention (gcloud pubsub topics update ",
        c.topic, " --message-retention-duration=7d) or start at the latest message"));
  }
  const absl::Time created = absl::Now();
  {
    grpc::ClientContext ctx;
    Connection::SetTimeout(ctx, conn_->options().connect_timeout);
    v1::Subscription out;
    auto s = conn_->subscriber_stub().CreateSubscription(&ctx, sub, &out);
    if (!s.ok()) {
      return ToStatus(
          s, conn_->endpoint(),
          absl::StrCat("creating subscription '", c.name, "' on topic '", c.topic, "'"));
    }
  }
  if (topic->retention <= absl::ZeroDuration())
    return absl::OkStatus();  // nothing retained to skip or replay
  v1::SeekRequest seek;
  seek.set_subscription(sub.name());
  const absl::Time to = c.start == StartPosition::kEarliest ? created - topic->retention : created;
  *seek.mutable_time() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(to));
  grpc::ClientContext ctx;
  Connection::SetTimeout(ctx, conn_->options().connect_timeout);
  v1::SeekResponse out;
  auto s = conn_->subscriber_stub().Seek(&ctx, seek, &out);
  if (s.error_code() == grpc::StatusCode::UNIMPLEMENTED && conn_->endpoint().emulator) {
    // The emulator cannot seek, but gives new subscriptions the retained backlog.
    return c.start == StartPosition::kLatest ? SkipRetained(sub.name(), created) : absl::OkStatus();
  }
  return ToStatus(s, conn_->endpoint(),
                  absl::StrCat("seeking new subscription '", c.name, "' to its start position"));
}

absl::Status PubsubAdmin::SkipRetained(const std::string& sub_path, absl::Time created) {
  const std::int64_t created_ns = absl::ToUnixNanos(created);
  for (;;) {
    v1::PullRequest req;
    req.set_subscription(sub_path);
    req.set_return_immediately(true);
    req.set_max_messages(1000);
    grpc::ClientContext ctx;
    Connection::SetTimeout(ctx, conn_->options().connect_timeout);
    v1::PullResponse resp;
    auto s = conn_->subscriber_stub().Pull(&ctx, req, &resp);
    if (!s.ok())
      return ToStatus(s, conn_->endpoint(), "skipping the retained backlog of a new subscription");
    if (resp.received_messages().empty()) return absl::OkStatus();
    v1::AcknowledgeRequest old;
    v1::ModifyAckDeadlineRequest fresh;
    old.set_subscription(sub_path);
    fresh.set_subscription(sub_path);
    fresh.set_ack_deadline_seconds(0);
    for (const auto& m : resp.received_messages()) {
      const bool before = TimeUtil::TimestampToNanoseconds(m.message().publish_time()) < created_ns;
      (before ? old.add_ack_ids() : fresh.add_ack_ids())->assign(m.ack_id());
    }
    google::protobuf::Empty e;
    if (!fresh.ack_ids().empty()) {
      grpc::ClientContext c2;
      Connection::SetTimeout(c2, conn_->options().connect_timeout);
      (void)conn_->subscriber_stub().ModifyAckDeadline(&c2, fresh, &e);
    }
    if (old.ack_ids().empty()) return absl::OkStatus();
    grpc::ClientContext c3;
    Connection::SetTimeout(c3, conn_->options().connect_timeout);
    if (auto a = conn_->subscriber_stub().Acknowledge(&c3, old, &e); !a.ok()) {
      return ToStatus(a, conn_->endpoint(), "skipping the retained backlog of a new subscription");
    }
  }
}

absl::Status PubsubAdmin::DeleteSubscription(const std::string& name) {
  v1::DeleteSubscriptionRequest req;
  req.set_subscription(SubscriptionPath(conn_->endpoint().project, name));
  grpc::ClientContext ctx;
  Connection::SetTimeout(ctx, conn_->options().connect_timeout);
  google::protobuf::Empty out;
  return ToStatus(conn_->subscriber_stub().DeleteSubscription(&ctx, req, &out), conn_->endpoint(),
                  absl::StrCat("deleting subscription '", name, "'"));
}

absl::StatusOr<std::vector<std::string>> PubsubAdmin::ListSubscriptions() {
  std::vector<std::string> out;
  v1::ListSubscriptionsRequest req;
  req.set_project(ProjectPath(conn_->endpoint().project));
  req.set_page_size(1000);
  do {
    grpc::ClientContext ctx;
    Connection::SetTimeout(ctx, conn_->options().connect_timeout);
    v1::ListSubscriptionsResponse resp;
    auto s = conn_->subscriber_stub().ListSubscriptions(&ctx, req, &resp);
    if (!s.ok()) return ToStatus(s, conn_->endpoint(), "listing subscriptions");
    for (const auto& sub : resp.subscriptions()) out.push_back(ShortName(sub.name()));
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<google::pubsub::v1::Subscription> PubsubAdmin::GetSubscription(
    const std::string& name) {
  v1::GetSubscriptionRequest req;
  req.set_subscription(SubscriptionPath(conn_->endpoint().project, name));
  grpc::ClientContext ctx;
  Connection::SetTimeout(ctx, conn_->options().connect_timeout);
  v1::Subscription sub;
  auto s = conn_->subscriber_stub().GetSubscription(&ctx, req, &sub);
  if (!s.ok())
    return ToStatus(s, conn_->endpoint(), absl::StrCat("looking up subscription '", name, "'"));
  return sub;
}

absl::StatusOr<SubscriptionInfo> PubsubAdmin::DescribeSubscription(const std::string& name) {
  auto sub = GetSubscription(name);
  if (!sub.ok()) return sub.status();
  SubscriptionInfo info;
  info.name = name;
  info.topic = ShortName(sub->topic());
  info.ack_deadline = absl::Seconds(sub->ack_deadline_seconds());
  if (sub->has_dead_letter_policy())
    info.dead_letter_topic = ShortName(sub->dead_letter_policy().dead_letter_topic());
  return info;
}

}  // namespace unibus::pubsub_internal
