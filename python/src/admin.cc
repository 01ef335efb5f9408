// unibus._Admin: topics and subscriptions. Every call blocks with the GIL released.
#include "admin.h"

#include <nanobind/stl/map.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "common.h"

namespace unibus::python {
namespace {

// Runs `f` (returning Status or StatusOr) without the GIL; raises on error.
template <typename F>
auto Blocking(F f) {
  decltype(f()) r;
  {
    nb::gil_scoped_release release;
    r = f();
  }
  if constexpr (std::is_same_v<decltype(r), absl::Status>) {
    Check(std::move(r));
  } else {
    return Value(std::move(r));
  }
}

}  // namespace

void BindAdmin(nb::module_& m) {
  nb::class_<PartitionInfo>(m, "PartitionInfo", "One partition of a Kafka topic.")
      .def_ro("id", &PartitionInfo::id, "int")
      .def_ro("leader", &PartitionInfo::leader, "int: the leader broker id; -1 if none")
      .def_ro("low_offset", &PartitionInfo::low_offset, "int")
      .def_ro("high_offset", &PartitionInfo::high_offset, "int");
  nb::class_<TopicInfo>(m, "TopicInfo", "What Admin.describe_topic() tells about a topic.")
      .def_ro("name", &TopicInfo::name, "str")
      .def_ro("partitions", &TopicInfo::partitions, "int")
      .def_ro("replication_factor", &TopicInfo::replication_factor, "int")
      .def_ro("messages", &TopicInfo::messages, "int: messages retained now; -1 if unknown")
      .def_prop_ro(
          "retention", [](const TopicInfo& t) { return ToSeconds(t.retention); },
          "float: retention in seconds; 0 for the backend's default")
      .def_ro("retention_messages", &TopicInfo::retention_messages, "int: 0 for no limit")
      .def_ro("partition_info", &TopicInfo::partition_info, "list[PartitionInfo]");
  nb::class_<SubscriptionInfo>(m, "SubscriptionInfo",
                               "What Admin.describe_subscription() tells about a subscription.")
      .def_ro("name", &SubscriptionInfo::name, "str")
      .def_ro("topic", &SubscriptionInfo::topic, "str")
      .def_ro("backlog", &SubscriptionInfo::backlog, "int: messages not yet acked; -1 if unknown")
      .def_ro("in_flight", &SubscriptionInfo::in_flight, "int: leased now; -1 if unknown")
      .def_prop_ro(
          "ack_deadline", [](const SubscriptionInfo& s) { return ToSeconds(s.ack_deadline); },
          "float: seconds")
      .def_ro("dead_letter_topic", &SubscriptionInfo::dead_letter_topic, "str");

  nb::class_<TopicConfig> tc(m, "_TopicConfig");
  tc.def(nb::init<>())
      .def_rw("name", &TopicConfig::name)
      .def_rw("partitions", &TopicConfig::partitions)
      .def_rw("replication_factor", &TopicConfig::replication_factor)
      .def_rw("retention_messages", &TopicConfig::retention_messages)
      .def_rw("configs", &TopicConfig::configs)
      .def_prop_rw(
          "retention", [](const TopicConfig& c) { return ToSeconds(c.retention); },
          [](TopicConfig& c, double s) { c.retention = Seconds(s, "retention"); });
  nb::class_<SubscriptionConfig> sc(m, "_SubscriptionConfig");
  sc.def(nb::init<>())
      .def_rw("name", &SubscriptionConfig::name)
      .def_rw("topic", &SubscriptionConfig::topic)
      .def_prop_rw(
          "start",
          [](const SubscriptionConfig& c) {
            return c.start == StartPosition::kEarliest ? "earliest" : "latest";
          },
          [](SubscriptionConfig& c, const std::string& s) {
            if (s != "earliest" && s != "latest") {
              ThrowStatus(absl::InvalidArgumentError("start must be 'earliest' or 'latest', not '" +
                                                     s + "'"));
            }
            c.start = s == "earliest" ? StartPosition::kEarliest : StartPosition::kLatest;
          })
      .def_prop_rw(
          "ack_deadline", [](const SubscriptionConfig& c) { return ToSeconds(c.ack_deadline); },
          [](SubscriptionConfig& c, double s) { c.ack_deadline = Seconds(s, "ack_deadline"); })
      .def_rw("message_ordering", &SubscriptionConfig::message_ordering)
      .def_rw("dead_letter_topic", &SubscriptionConfig::dead_letter_topic)
      .def_rw("max_delivery_attempts", &SubscriptionConfig::max_delivery_attempts);

  nb::class_<PyAdmin>(m, "_Admin")
      .def("create_topic",
           [](PyAdmin& a, const TopicConfig& c) {
             Blocking([&] { return a.admin.CreateTopic(c); });
           })
      .def("delete_topic",
           [](PyAdmin& a, const std::string& n) {
             Blocking([&] { return a.admin.DeleteTopic(n); });
           })
      .def("list_topics", [](PyAdmin& a) { return Blocking([&] { return a.admin.ListTopics(); }); })
      .def("describe_topic",
           [](PyAdmin& a, const std::string& n) {
             return Blocking([&] { return a.admin.DescribeTopic(n); });
           })
      .def("create_subscription",
           [](PyAdmin& a, const SubscriptionConfig& c) {
             Blocking([&] { return a.admin.CreateSubscription(c); });
           })
      .def("delete_subscription",
           [](PyAdmin& a, const std::string& n) {
             Blocking([&] { return a.admin.DeleteSubscription(n); });
           })
      .def("list_subscriptions",
           [](PyAdmin& a) { return Blocking([&] { return a.admin.ListSubscriptions(); }); })
      .def("describe_subscription", [](PyAdmin& a, const std::string& n) {
        return Blocking([&] { return a.admin.DescribeSubscription(n); });
      });
}

}  // namespace unibus::python
