// unibus.Message: a delivered message (data, attributes, key, id, times) and its ack.
#include "message.h"

#include <nanobind/stl/string.h>

#include "absl/strings/str_cat.h"
#include "common.h"

namespace unibus::python {

const char* StateName(DeliveredMessage::State s) {
  switch (s) {
    case DeliveredMessage::kAck:
      return "ack";
    case DeliveredMessage::kNack:
      return "nack";
    case DeliveredMessage::kReject:
      return "reject";
    case DeliveredMessage::kUnsettled:
      break;
  }
  return "unsettled";
}

nb::object WrapMessage(Message m, AckHandler h,
                       std::shared_ptr<const std::atomic<bool>> subscriber_closed) {
  nb::object o = nb::inst_alloc(nb::type<DeliveredMessage>());
  new (nb::inst_ptr<DeliveredMessage>(o))
      DeliveredMessage(std::move(m), std::move(h), std::move(subscriber_closed));
  nb::inst_mark_ready(o);
  return o;
}

namespace {

void Settle(DeliveredMessage& d, DeliveredMessage::State how, std::string reason) {
  if (d.subscriber_closed != nullptr && d.subscriber_closed->load() && !d.settled()) {
    // Close released every unsettled message back to the broker; an ack now would be
    // lost without a word (the message comes again), a reject not dead-lettered.
    ThrowStatus(absl::FailedPreconditionError(absl::StrCat(
        "message ", d.message.id, ": its subscriber is closed, so this ", StateName(how),
        " cannot be applied; the message was released and will be delivered again. Settle "
        "messages before closing the subscriber")));
  }
  DeliveredMessage::State previous;
  AckHandler h = d.Take(how, &previous);
  if (previous != DeliveredMessage::kUnsettled) {
    ThrowStatus(absl::FailedPreconditionError(
        absl::StrCat("message ", d.message.id, " was already settled (", StateName(previous),
                     "); ack(), nack() and reject() settle a message once")));
  }
  if (how == DeliveredMessage::kAck) {
    // An ack never blocks on the network (the AckHandler contract): it queues the id
    // for the fetching thread under a short lock, so it keeps the GIL.
    std::move(h).ack();
    return;
  }
  nb::gil_scoped_release release;
  if (how == DeliveredMessage::kNack) {
    std::move(h).nack(std::move(reason));
  } else {
    std::move(h).reject(std::move(reason));
  }
}

nb::object PublishTime(const DeliveredMessage& d) {
  if (d.message.publish_time == absl::InfinitePast()) return nb::none();
  nb::module_ dt = nb::module_::import_("datetime");
  const double secs = absl::ToDoubleSeconds(d.message.publish_time - absl::UnixEpoch());
  return dt.attr("datetime").attr("fromtimestamp")(secs, dt.attr("timezone").attr("utc"));
}

}  // namespace

void BindMessage(nb::module_& m) {
  nb::class_<DeliveredMessage>(
      m, "Message",
      "A message delivered by a Subscriber, with its acknowledgement.\n\n"
      "Settle it exactly once with ack(), nack(reason) or reject(reason),\n"
      "from any thread. A message dropped unsettled is nacked.")
      .def_prop_ro(
          "data",
          [](const DeliveredMessage& d) {
            return nb::bytes(d.message.data.data(), d.message.data.size());
          },
          "bytes: the payload.")
      .def_prop_ro(
          "attributes",
          [](const DeliveredMessage& d) {
            nb::typed<nb::dict, nb::str, nb::str> out;
            for (const auto& [k, v] : d.message.attributes) out[Text(k)] = Text(v);
            return out;
          },
          "dict[str, str]: the attributes (Kafka headers), a new dict on each access.")
      .def_prop_ro(
          "ordering_key", [](const DeliveredMessage& d) { return Text(d.message.ordering_key); },
          "str: the ordering key (Kafka: the record key); '' when it has none.")
      .def_prop_ro(
          "id", [](const DeliveredMessage& d) { return d.message.id; },
          "str: the id the broker gave it, unique within its topic.")
      .def_prop_ro(
          "topic", [](const DeliveredMessage& d) { return d.message.topic; },
          "str: the topic it was published to.")
      .def_prop_ro("publish_time", &PublishTime,
                   nb::for_getter(nb::sig("def publish_time(self) -> datetime.datetime | None")),
                   "datetime.datetime | None: when the broker received it (UTC).")
      .def_prop_ro(
          "delivery_attempt", [](const DeliveredMessage& d) { return d.message.delivery_attempt; },
          "int: 1 on the first delivery, counting up on each redelivery.")
      .def_prop_ro(
          "settled", [](const DeliveredMessage& d) { return d.settled(); },
          "bool: True once ack(), nack() or reject() was called.")
      .def(
          "ack", [](DeliveredMessage& d) { Settle(d, DeliveredMessage::kAck, {}); },
          "Acknowledges the message: it is not redelivered in normal operation.\n\n"
          "Raises unibus.FailedPrecondition if the message was already settled.")
      .def(
          "nack",
          [](DeliveredMessage& d, std::string reason) {
            Settle(d, DeliveredMessage::kNack, std::move(reason));
          },
          nb::arg("reason") = "nacked",
          "Negatively acknowledges the message: it is redelivered after a backoff\n"
          "(100 ms doubling to 10 s), or, after max_delivery_attempts, moved to the\n"
          "dead-letter topic with `reason` as unibus-dead-letter-reason.\n\n"
          "Raises unibus.FailedPrecondition if the message was already settled.")
      .def(
          "reject",
          [](DeliveredMessage& d, std::string reason) {
            Settle(d, DeliveredMessage::kReject, std::move(reason));
          },
          nb::arg("reason"),
          "Moves the message to the dead-letter topic now with `reason`, without\n"
          "further attempts (it can never be handled: wrong type, unparsable).\n\n"
          "Raises unibus.FailedPrecondition if the message was already settled.")
      .def("__repr__", [](const DeliveredMessage& d) {
        return absl::StrCat("<unibus.Message id=", d.message.id, " topic=", d.message.topic,
                            " bytes=", d.message.data.size(), " key='", d.message.ordering_key,
                            "' attempt=", d.message.delivery_attempt, ">");
      });
}

}  // namespace unibus::python
