// unibus._Publisher: publish with concurrent.futures.Future results, flush, close.
#include "publisher.h"

#include <nanobind/stl/string.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common.h"

namespace unibus::python {
namespace {

// Runs done-callbacks of publish futures on one library thread, many per GIL
// acquisition: a library thread that settles a publish only queues the callback here
// (no GIL, no Python). A future nobody added a callback to costs Python nothing.
class Completer {
 public:
  static Completer& Get() {
    static Completer* c = new Completer();  // lives until exit: joined by Stop()
    return *c;
  }

  // Queues `fn()` (a new reference, released after the call).
  void Add(PyObject* fn) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;  // interpreter exit: nobody waits on it any more
    if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
    queue_.push_back(fn);
    if (queue_.size() == 1) cv_.notify_one();
  }

  // Runs what is queued, then joins the thread. Call with the GIL released.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    std::deque<PyObject*> batch;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopped_ || !queue_.empty(); });
        if (queue_.empty()) return;
        batch.swap(queue_);
      }
      if (!PythonAlive()) return;
      nb::gil_scoped_acquire gil;
      for (PyObject* p : batch) {
        nb::object fn = nb::steal(p);
        try {
          fn();
        } catch (nb::python_error& e) {
          e.discard_as_unraisable("unibus publish future callback");
        }
      }
      batch.clear();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<PyObject*> queue_;  // guarded by mu_
  bool stopped_ = false;         // guarded by mu_
  std::thread thread_;
};

constexpr absl::Duration kSignalCheck = absl::Milliseconds(100);

// collections.abc.Mapping, looked up once (GIL held).
nb::handle MappingType() {
  static PyObject* type =
      nb::object(nb::module_::import_("collections.abc").attr("Mapping")).release().ptr();
  return type;
}

// unibus.PublishFuture, set by _publisher.py once it defined the class (GIL held).
PyObject* future_type = nullptr;

// A unibus.PublishFuture over `result`, made without running Python code: the type's
// tp_new (object's: the concurrent.futures state is made lazily, on first use, by the
// class's __getattr__) and the `_impl` slot set directly.
nb::object WrapResult(PublishResult result) {
  nb::object impl = nb::cast(std::move(result), nb::rv_policy::move);
  if (future_type == nullptr) return impl;
  auto* type = reinterpret_cast<PyTypeObject*>(future_type);
  static PyObject* no_args = PyTuple_New(0);
  static PyObject* impl_name = PyUnicode_InternFromString("_impl");
  nb::object f = nb::steal(type->tp_new(type, no_args, nullptr));
  if (!f.is_valid() || PyObject_SetAttr(f.ptr(), impl_name, impl.ptr()) != 0) {
    throw nb::python_error();
  }
  return f;
}

// The publish's message from Python arguments (GIL held). `*not_utf8` names the
// attribute or key that is not UTF-8, if any: the contract refuses it on every backend.
// (The C++ core does not check it yet; the bindings do, until it does.)
Message ToMessage(nb::handle data, nb::handle attributes, nb::handle ordering_key,
                  std::string* not_utf8) {
  Message m;
  m.data = TextOrBytes(data, "data");
  if (!attributes.is_none()) {
    nb::object dict = nb::borrow(attributes);
    if (!PyDict_Check(attributes.ptr())) {
      // Any other Mapping (types.MappingProxyType, a custom Mapping) as a dict.
      if (!PyObject_IsInstance(attributes.ptr(), MappingType().ptr())) {
        throw nb::type_error(absl::StrCat("attributes must be a dict[str, str], not ",
                                          Py_TYPE(attributes.ptr())->tp_name)
                                 .c_str());
      }
      dict = nb::steal(PyDict_New());
      if (!dict.is_valid() || PyDict_Merge(dict.ptr(), attributes.ptr(), 1) != 0) {
        throw nb::python_error();
      }
    }
    for (auto [k, v] : nb::borrow<nb::dict>(dict)) {
      bool utf8 = true;
      std::string key = TextOrBytes(k, "attribute keys", &utf8);
      if (!utf8 && not_utf8->empty() && !IsUtf8(key)) *not_utf8 = "an attribute key";
      utf8 = true;
      std::string value = TextOrBytes(v, "attribute values", &utf8);
      if (!utf8 && not_utf8->empty() && !IsUtf8(value)) {
        *not_utf8 = absl::StrCat("the value of attribute '", key, "'");
      }
      m.attributes[std::move(key)] = std::move(value);
    }
  }
  if (!ordering_key.is_none()) {
    bool utf8 = true;
    m.ordering_key = TextOrBytes(ordering_key, "ordering_key", &utf8);
    if (!utf8 && not_utf8->empty() && !IsUtf8(m.ordering_key)) *not_utf8 = "the ordering key";
  }
  return m;
}

// The contract's refusal of a non-UTF-8 attribute or key (`what` names it).
absl::Status NotUtf8(const char* verb, const std::string& topic, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(
      verb, " to '", topic, "': ", what,
      " is not valid UTF-8; attributes and ordering keys must be UTF-8 on every backend"));
}

}  // namespace

void StopCompleter() { Completer::Get().Stop(); }

void PyPublisher::CheckOpen() const {
  if (closed_.load()) {
    ThrowStatus(absl::FailedPreconditionError(
        absl::StrCat("the publisher for topic '", topic_, "' is closed; open a new one")));
  }
}

bool PublishResult::Wait(double timeout) {
  if (future_.is_ready()) return true;
  const absl::Time deadline =
      timeout < 0 ? absl::InfiniteFuture() : absl::Now() + absl::Seconds(timeout);
  for (;;) {
    const absl::Duration slice =
        std::max(absl::ZeroDuration(), std::min(kSignalCheck, deadline - absl::Now()));
    bool ready;
    {
      nb::gil_scoped_release release;
      ready = future_.wait_for(absl::ToChronoNanoseconds(slice));
    }
    if (ready) return true;
    if (absl::Now() >= deadline) return false;
    if (PyErr_CheckSignals() != 0) throw nb::python_error();
  }
}

nb::object PublishResult::Result(double timeout) {
  if (!Wait(timeout)) {
    PyErr_SetString(PyExc_TimeoutError, "the publish has no result yet");
    throw nb::python_error();
  }
  const absl::StatusOr<MessageId>& r = future_.get();
  if (!r.ok()) ThrowStatus(r.status());
  return nb::str(r->data(), r->size());
}

nb::object PublishResult::Exception(double timeout) {
  if (!Wait(timeout)) {
    PyErr_SetString(PyExc_TimeoutError, "the publish has no result yet");
    throw nb::python_error();
  }
  const absl::StatusOr<MessageId>& r = future_.get();
  return r.ok() ? nb::none() : MakeException(r.status());
}

void PublishResult::AddDoneCallback(nb::object fn) {
  if (future_.is_ready()) {
    fn();  // concurrent.futures: a callback added after completion runs at once
    return;
  }
  PyObject* f = fn.release().ptr();
  future_.then([f](const absl::StatusOr<MessageId>&) { Completer::Get().Add(f); });
}

nb::object PyPublisher::Publish(nb::handle data, nb::handle attributes, nb::handle ordering_key) {
  CheckOpen();
  std::string not_utf8;
  Message m = ToMessage(data, attributes, ordering_key, &not_utf8);
  if (!not_utf8.empty()) {
    return WrapResult(PublishResult(
        MakeReadyFuture<absl::StatusOr<MessageId>>(NotUtf8("publish", topic_, not_utf8))));
  }
  PublishFuture f;
  {
    nb::gil_scoped_release release;  // Publish blocks while max_pending_messages are unsent
    f = publisher_.Publish(std::move(m));
  }
  return WrapResult(PublishResult(std::move(f)));
}

void PyPublisher::Send(nb::handle data, nb::handle attributes, nb::handle ordering_key) {
  CheckOpen();
  std::string not_utf8;
  Message m = ToMessage(data, attributes, ordering_key, &not_utf8);
  if (!not_utf8.empty()) {
    ThrowStatus(NotUtf8("send", topic_, not_utf8));
  }
  absl::Status s;
  {
    nb::gil_scoped_release release;  // Send blocks while max_pending_messages are unsent
    s = publisher_.Send(std::move(m));
  }
  Check(std::move(s));
  sent_.store(true, std::memory_order_relaxed);
}

void PyPublisher::Flush() {
  CheckOpen();
  absl::Status s;
  {
    nb::gil_scoped_release release;
    sent_.store(false, std::memory_order_relaxed);
    s = publisher_.Flush();
  }
  Check(std::move(s));
}

void PyPublisher::Close(bool flush) {
  if (closed_.exchange(true)) return;
  absl::Status s;
  {
    nb::gil_scoped_release release;
    if (flush) s = publisher_.Flush();
    publisher_.Shutdown();
  }
  if (!flush) return;
  // A publish's failure is its future's; a send() has only this flush to report it.
  if (sent_.exchange(false)) Check(std::move(s));
}

void BindPublisher(nb::module_& m) {
  m.def(
      "_set_publish_future_type",
      [](nb::handle type) {
        if (!type.is_none() && !PyType_Check(type.ptr())) {
          throw nb::type_error("expected a class or None");
        }
        Py_XDECREF(future_type);
        future_type = type.is_none() ? nullptr : nb::borrow(type).release().ptr();
      },
      nb::arg("type").none(),
      "Makes _Publisher.publish return instances of `type` (unibus.PublishFuture); None: "
      "the bare _PublishResult (at interpreter exit, so the class is not kept alive).");
  nb::class_<PublishResult>(m, "_PublishResult")
      .def("done", &PublishResult::done)
      .def("result", &PublishResult::Result, nb::arg("timeout"))
      .def("exception", &PublishResult::Exception, nb::arg("timeout"))
      .def("add_done_callback", &PublishResult::AddDoneCallback, nb::arg("fn"));
  nb::class_<PyPublisher>(m, "_Publisher")
      .def("publish", &PyPublisher::Publish, nb::arg("data"), nb::kw_only(),
           nb::arg("attributes").none() = nb::none(), nb::arg("ordering_key").none() = nb::none(),
           "publish(data, *, attributes=None, ordering_key=None) -> unibus.PublishFuture: see "
           "unibus.Publisher.publish")
      .def("send", &PyPublisher::Send, nb::arg("data"), nb::kw_only(),
           nb::arg("attributes").none() = nb::none(), nb::arg("ordering_key").none() = nb::none(),
           "send(data, *, attributes=None, ordering_key=None) -> None: see "
           "unibus.Publisher.send")
      .def("flush", &PyPublisher::Flush)
      .def("close", &PyPublisher::Close, nb::arg("flush") = true)
      .def_prop_ro("topic", &PyPublisher::topic)
      .def_prop_ro("closed", &PyPublisher::closed);
}

}  // namespace unibus::python
