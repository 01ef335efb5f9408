// unibus._Subscriber and unibus._Session: pull, subscribe with a Python callback, stats.
#include "subscriber.h"

#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "message.h"

namespace unibus::python {
namespace {

// How long a blocking call waits without the GIL before it looks for Ctrl-C.
constexpr absl::Duration kSignalCheck = absl::Milliseconds(100);

// A TypeError "`name` must be `what`, not T" (the wording of unibus._checks).
[[noreturn]] void WrongType(const char* name, const char* what, nb::handle value) {
  throw nb::type_error(
      absl::StrCat(name, " must be ", what, ", not ", nb::type_name(value.type()).c_str()).c_str());
}

// Subscriber.pull's max_messages: an int (not a bool).
std::size_t MaxMessages(nb::handle h) {
  if (!PyLong_Check(h.ptr()) || PyBool_Check(h.ptr())) WrongType("max_messages", "an int", h);
  const long long n = PyLong_AsLongLong(h.ptr());
  if (n == -1 && PyErr_Occurred()) throw nb::python_error();
  if (n < 1) ThrowStatus(absl::InvalidArgumentError("max_messages must be at least 1"));
  return static_cast<std::size_t>(n);
}

// Subscriber.pull's timeout in seconds: None (-1: until one comes), a float or int, or a
// datetime.timedelta.
double PullTimeout(nb::handle h) {
  if (h.is_none()) return -1.0;
  if (PyFloat_CheckExact(h.ptr())) return PyFloat_AS_DOUBLE(h.ptr());
  if ((PyLong_Check(h.ptr()) || PyFloat_Check(h.ptr())) && !PyBool_Check(h.ptr())) {
    const double d = PyFloat_AsDouble(h.ptr());
    if (d == -1.0 && PyErr_Occurred()) throw nb::python_error();
    return d;
  }
  // Kept for the interpreter's life (never released: no destruction order at exit).
  static PyObject* timedelta =
      nb::object(nb::module_::import_("datetime").attr("timedelta")).release().ptr();
  if (PyObject_IsInstance(h.ptr(), timedelta) == 1) {
    return nb::cast<double>(h.attr("total_seconds")());
  }
  WrongType("timeout", "a number of seconds (float) or a datetime.timedelta", h);
}

}  // namespace

void PySession::Stop() {
  if (stopped_.exchange(true)) return;
  nb::gil_scoped_release release;
  session_.Stop();
}

bool PySession::Wait(double timeout) {
  const absl::Time deadline =
      timeout < 0 ? absl::InfiniteFuture() : absl::Now() + absl::Seconds(timeout);
  for (;;) {
    const absl::Duration slice = std::min(kSignalCheck, deadline - absl::Now());
    absl::Status s;
    {
      nb::gil_scoped_release release;
      s = session_.Wait(std::max(slice, absl::ZeroDuration()));
    }
    if (s.ok()) return true;
    if (s.code() != absl::StatusCode::kDeadlineExceeded) ThrowStatus(s);
    if (absl::Now() >= deadline) return false;
    if (PyErr_CheckSignals() != 0) throw nb::python_error();
  }
}

void PySubscriber::CheckOpen() const {
  if (closed_.load()) {
    ThrowStatus(absl::FailedPreconditionError(
        absl::StrCat("the subscriber for subscription '", name_, "' is closed; open a new one")));
  }
}

nb::list PySubscriber::Pull(std::size_t max_messages, double timeout) {
  CheckOpen();
  // Messages already waiting are taken with the GIL held: a zero timeout only takes the
  // subscriber's short internal lock, and a busy consumer saves a GIL hand-over a call.
  absl::StatusOr<std::vector<PulledMessage>> got =
      subscriber_.Pull(max_messages, absl::ZeroDuration());
  if (got.ok() && got->empty() && timeout != 0) {
    const absl::Time deadline =
        timeout < 0 ? absl::InfiniteFuture() : absl::Now() + absl::Seconds(timeout);
    for (;;) {
      const absl::Duration slice =
          std::max(absl::ZeroDuration(), std::min(kSignalCheck, deadline - absl::Now()));
      {
        nb::gil_scoped_release release;
        got = subscriber_.Pull(max_messages, slice);
      }
      if (!got.ok() || !got->empty() || absl::Now() >= deadline) break;
      if (PyErr_CheckSignals() != 0) throw nb::python_error();
      CheckOpen();
    }
  }
  if (!got.ok()) ThrowStatus(got.status());
  nb::list out = nb::steal<nb::list>(PyList_New(static_cast<Py_ssize_t>(got->size())));
  if (!out.is_valid()) throw nb::python_error();
  Py_ssize_t i = 0;
  for (PulledMessage& p : *got) {
    PyList_SET_ITEM(out.ptr(), i++,
                    WrapMessage(std::move(p.message), std::move(p.ack), released_).release().ptr());
  }
  return out;
}

std::unique_ptr<PySession> PySubscriber::Subscribe(nb::object callback) {
  CheckOpen();
  auto cb = std::make_shared<GilSafeCallable>(std::move(callback));
  MessageHandler handler = [cb, released = released_](Message m, AckHandler h) {
    if (!PythonAlive()) return;  // the handler drops unsettled: a nack
    nb::gil_scoped_acquire gil;
    nb::object msg = WrapMessage(std::move(m), std::move(h), released);
    try {
      cb->fn(msg);
    } catch (nb::python_error& e) {
      // The Python wrapper nacks and logs; this is only what escaped it.
      DeliveredMessage::State previous;
      AckHandler left = nb::cast<DeliveredMessage&>(msg).Take(DeliveredMessage::kNack, &previous);
      std::move(left).nack(absl::StrCat("callback raised: ", e.what()));
      e.discard_as_unraisable("unibus subscriber callback");
    }
  };
  absl::StatusOr<Session> s;
  {
    nb::gil_scoped_release release;
    s = subscriber_.Subscribe(std::move(handler));
  }
  return std::make_unique<PySession>(Value(std::move(s)));
}

void PySubscriber::Close() {
  if (closed_.exchange(true)) return;
  nb::gil_scoped_release release;
  subscriber_.Shutdown();
  released_->store(true);
}

void BindSubscriber(nb::module_& m) {
  nb::class_<SubscriberStats>(m, "SubscriberStats", "Counters of a subscriber since it started.")
      .def_ro("delivered", &SubscriberStats::delivered, "int: handed to a callback or pulled")
      .def_ro("acked", &SubscriberStats::acked, "int")
      .def_ro("nacked", &SubscriberStats::nacked, "int")
      .def_ro("dead_lettered", &SubscriberStats::dead_lettered,
              "int: written to the dead-letter topic (then acked), once per message")
      .def_ro("dead_lettered_rejected", &SubscriberStats::dead_lettered_rejected,
              "int: of those, the ones rejected as unprocessable (Message.reject)")
      .def_ro("dead_letter_failed", &SubscriberStats::dead_letter_failed,
              "int: messages whose dead-letter copy could not be written (Session.wait "
              "raises the error); each stays unacked")
      .def_ro("outstanding", &SubscriberStats::outstanding, "int: delivered, not yet settled")
      .def("__repr__", [](const SubscriberStats& s) {
        return absl::StrCat("SubscriberStats(delivered=", s.delivered, ", acked=", s.acked,
                            ", nacked=", s.nacked, ", dead_lettered=", s.dead_lettered,
                            ", dead_lettered_rejected=", s.dead_lettered_rejected,
                            ", dead_letter_failed=", s.dead_letter_failed,
                            ", outstanding=", s.outstanding, ")");
      });
  nb::class_<PySession>(m, "_Session")
      .def("stop", &PySession::Stop)
      .def("wait", &PySession::Wait, nb::arg("timeout"))
      .def_prop_ro("stopped", &PySession::stopped);
  nb::class_<PySubscriber>(m, "_Subscriber")
      .def(
          "pull",
          [](PySubscriber& s, nb::handle max_messages, nb::handle timeout) {
            return s.Pull(MaxMessages(max_messages), PullTimeout(timeout));
          },
          nb::arg("max_messages") = 100, nb::arg("timeout").none() = nb::none(),
          nb::sig("def pull(self, max_messages: int = 100, timeout: float | datetime.timedelta "
                  "| None = None) -> list[Message]"),
          "Subscriber.pull itself (see there); checks its arguments in C++.")
      .def("subscribe", &PySubscriber::Subscribe, nb::arg("callback"))
      .def("stats", &PySubscriber::Stats)
      .def("close", &PySubscriber::Close)
      .def_prop_ro("name", &PySubscriber::name)
      .def_prop_ro("closed", &PySubscriber::closed);
}

}  // namespace unibus::python
