// unibus._Broker and the option structs: open by URL, make publishers, subscribers,
// admins.
#include <nanobind/stl/map.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>

#include "admin.h"
#include "cli/common.h"
#include "common.h"
#include "core/names.h"
#include "publisher.h"
#include "subscriber.h"

namespace unibus::python {
namespace {

// A Broker as Python holds it.
struct PyBroker {
  Broker broker;
};

template <typename T, typename S>
void DurationField(nb::class_<T>& c, const char* name, absl::Duration S::*field, const char* doc) {
  c.def_prop_rw(
      name, [field](const T& o) { return ToSeconds(o.*field); },
      [field, name](T& o, double seconds) { o.*field = Seconds(seconds, name); }, doc);
}

std::string ResolveUrl(std::string url, std::string broker, std::string config) {
  cli::BrokerFlags flags;
  flags.url = std::move(url);
  flags.broker = std::move(broker);
  if (!config.empty()) {
    flags.config = std::move(config);
    flags.config_given = true;
  }
  return Value(cli::ResolveUrl(flags));
}

}  // namespace

void BindBroker(nb::module_& m) {
  nb::class_<BrokerOptions> bo(m, "_BrokerOptions");
  bo.def(nb::init<>())
      .def_rw("properties", &BrokerOptions::properties)
      .def_rw("max_message_bytes", &BrokerOptions::max_message_bytes)
      .def_rw("portable_names", &BrokerOptions::portable_names);
  DurationField(bo, "connect_timeout", &BrokerOptions::connect_timeout, "seconds");

  nb::class_<PublisherOptions> po(m, "_PublisherOptions");
  po.def(nb::init<>())
      .def_rw("max_batch_messages", &PublisherOptions::max_batch_messages)
      .def_rw("max_batch_bytes", &PublisherOptions::max_batch_bytes)
      .def_rw("max_pending_messages", &PublisherOptions::max_pending_messages)
      .def_rw("create_topic_if_missing", &PublisherOptions::create_topic_if_missing);
  DurationField(po, "max_batch_delay", &PublisherOptions::max_batch_delay, "seconds");

  nb::class_<SubscriberOptions> so(m, "_SubscriberOptions");
  so.def(nb::init<>())
      .def_rw("topic", &SubscriberOptions::topic)
      .def_prop_rw(
          "start",
          [](const SubscriberOptions& o) {
            return o.start == StartPosition::kEarliest ? "earliest" : "latest";
          },
          [](SubscriberOptions& o, const std::string& s) {
            if (s != "earliest" && s != "latest") {
              ThrowStatus(absl::InvalidArgumentError("start must be 'earliest' or 'latest', not '" +
                                                     s + "'"));
            }
            o.start = s == "earliest" ? StartPosition::kEarliest : StartPosition::kLatest;
          })
      .def_rw("max_outstanding_messages", &SubscriberOptions::max_outstanding_messages)
      .def_rw("max_outstanding_bytes", &SubscriberOptions::max_outstanding_bytes)
      .def_rw("concurrency", &SubscriberOptions::concurrency)
      .def_rw("max_delivery_attempts", &SubscriberOptions::max_delivery_attempts)
      .def_rw("dead_letter_topic", &SubscriberOptions::dead_letter_topic);
  DurationField(so, "ack_deadline", &SubscriberOptions::ack_deadline, "seconds");
  DurationField(so, "min_backoff", &SubscriberOptions::min_backoff, "seconds");
  DurationField(so, "max_backoff", &SubscriberOptions::max_backoff, "seconds");
  DurationField(so, "shutdown_timeout", &SubscriberOptions::shutdown_timeout, "seconds");

  nb::class_<Capabilities>(m, "Capabilities", "What a backend really supports.")
      .def_ro("backend", &Capabilities::backend, "str: 'mem', 'sqlite', 'kafka' or 'pubsub'")
      .def_ro("durable", &Capabilities::durable, "bool: messages survive a process restart")
      .def_ro("multi_process", &Capabilities::multi_process,
              "bool: several processes may share one broker")
      .def_ro("ordering", &Capabilities::ordering, "bool: per-ordering-key in-order delivery")
      .def_ro("partitions", &Capabilities::partitions, "bool: topics have partitions (Kafka)")
      .def_ro("native_dead_letter", &Capabilities::native_dead_letter,
              "bool: the broker moves messages to a dead-letter topic itself")
      .def_ro("retention", &Capabilities::retention, "bool: per-topic retention")
      .def_ro("admin_create_topic", &Capabilities::admin_create_topic, "bool")
      .def_ro("admin_delete_topic", &Capabilities::admin_delete_topic, "bool")
      .def_ro("start_position", &Capabilities::start_position,
              "bool: subscriptions may start at earliest or latest")
      .def_ro("survives_broker_restart", &Capabilities::survives_broker_restart, "bool")
      // The limits a publish is checked against (unibus.InvalidArgument when one is
      // passed): what the backend delivers end to end, capped by max_message_bytes.
      .def_ro("max_message_bytes", &Capabilities::max_message_bytes,
              "int: bytes of data + attribute keys and values + ordering key, at most")
      .def_ro("max_attributes", &Capabilities::max_attributes, "int: attributes per message")
      .def_ro("max_attribute_key_bytes", &Capabilities::max_attribute_key_bytes,
              "int: bytes of one attribute key (UTF-8)")
      .def_ro("max_attribute_value_bytes", &Capabilities::max_attribute_value_bytes,
              "int: bytes of one attribute value (UTF-8)")
      .def_ro("max_ordering_key_bytes", &Capabilities::max_ordering_key_bytes,
              "int: bytes of the ordering key (UTF-8)")
      .def("__repr__", [](const Capabilities& c) {
        auto b = [](bool v) { return v ? "True" : "False"; };
        return absl::StrCat(
            "Capabilities(backend='", c.backend, "', durable=", b(c.durable),
            ", multi_process=", b(c.multi_process), ", ordering=", b(c.ordering),
            ", partitions=", b(c.partitions), ", native_dead_letter=", b(c.native_dead_letter),
            ", retention=", b(c.retention), ", admin_create_topic=", b(c.admin_create_topic),
            ", admin_delete_topic=", b(c.admin_delete_topic),
            ", start_position=", b(c.start_position),
            ", survives_broker_restart=", b(c.survives_broker_restart),
            ", max_message_bytes=", c.max_message_bytes, ", max_attributes=", c.max_attributes,
            ", max_attribute_key_bytes=", c.max_attribute_key_bytes,
            ", max_attribute_value_bytes=", c.max_attribute_value_bytes,
            ", max_ordering_key_bytes=", c.max_ordering_key_bytes, ")");
      });

  m.def(
      "check_portable_name",
      [](const std::string& name, const std::string& kind) {
        if (kind != "topic" && kind != "subscription") {
          ThrowStatus(absl::InvalidArgumentError(
              absl::StrCat("kind must be 'topic' or 'subscription', not '", kind, "'")));
        }
        Check(core_internal::ValidateName(kind, name));
      },
      nb::arg("name"), nb::arg("kind") = "topic",
      "Raises unibus.InvalidArgument, saying which rule `name` breaks, unless it is a "
      "portable topic or subscription name: 3-249 characters of letters, digits, '.', '_' "
      "and '-', starting with a letter, not starting with 'goog' (valid on every backend). "
      "unibus creates only such names unless unibus.open(..., portable_names=False).");

  m.def("_resolve_url", &ResolveUrl, nb::arg("url"), nb::arg("broker"), nb::arg("config"));
  m.def("_default_url", &DefaultUrl);

  nb::class_<PyBroker>(m, "_Broker")
      .def_static(
          "open",
          [](const std::string& url, const BrokerOptions& options) {
            absl::StatusOr<Broker> b;
            {
              nb::gil_scoped_release release;
              b = Broker::Open(url, options);
            }
            return PyBroker{Value(std::move(b))};
          },
          nb::arg("url"), nb::arg("options"))
      .def(
          "publisher",
          [](PyBroker& b, const std::string& topic, const PublisherOptions& options) {
            absl::StatusOr<Publisher> p;
            {
              nb::gil_scoped_release release;
              p = b.broker.publisher(topic, options);
            }
            return std::make_unique<PyPublisher>(Value(std::move(p)), topic);
          },
          nb::arg("topic"), nb::arg("options"))
      .def(
          "subscriber",
          [](PyBroker& b, const std::string& subscription, const SubscriberOptions& options) {
            absl::StatusOr<Subscriber> s;
            {
              nb::gil_scoped_release release;
              s = b.broker.subscriber(subscription, options);
            }
            return std::make_unique<PySubscriber>(Value(std::move(s)), subscription);
          },
          nb::arg("subscription"), nb::arg("options"))
      .def("admin", [](PyBroker& b) { return PyAdmin{b.broker.admin()}; })
      .def("capabilities", [](const PyBroker& b) { return b.broker.capabilities(); })
      .def_prop_ro("url", [](const PyBroker& b) { return b.broker.url(); });
}

// Reaches the Broker of a _Broker (for vision.cc).
Broker& BrokerOf(nb::handle h) { return nb::cast<PyBroker&>(h).broker; }

}  // namespace unibus::python
