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
#include "common.h"

namespace unibus::python {
namespace {

// Completes publish futures on one library thread, many per GIL acquisition: a
// library thread that settles a publish only queues its result here (no GIL, no
// Python), so a burst of results costs one GIL hand-over instead of one each.
class Completer {
 public:
  static Completer& Get() {
    static Completer* c = new Completer();  // lives until exit: joined by Stop()
    return *c;
  }

  // Takes a reference to `future` (GIL held).
  void Add(PyObject* future, absl::StatusOr<MessageId> result) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;  // interpreter exit: nobody waits on it any more
    if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
    queue_.push_back(Item{future, std::move(result)});
    if (queue_.size() == 1) cv_.notify_one();
  }

  // Completes what is queued, then joins the thread. Call with the GIL released.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Item {
    PyObject* future;  // a new reference, released with the GIL held
    absl::StatusOr<MessageId> result;
  };

  void Run() {
    std::deque<Item> batch;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopped_ || !queue_.empty(); });
        if (queue_.empty()) return;
        batch.swap(queue_);
      }
      if (!PythonAlive()) return;
      nb::gil_scoped_acquire gil;
      for (Item& item : batch) {
        nb::object future = nb::steal(item.future);
        try {
          if (item.result.ok()) {
            future.attr("set_result")(nb::str(item.result->data(), item.result->size()));
          } else {
            future.attr("set_exception")(MakeException(item.result.status()));
          }
        } catch (nb::python_error& e) {
          // The caller cancelled the future (InvalidStateError): nothing to tell.
          e.discard_as_unraisable("unibus publish result");
        }
      }
      batch.clear();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;  // guarded by mu_
  bool stopped_ = false;    // guarded by mu_
  std::thread thread_;
};

// The publish's message from Python arguments (GIL held). `*not_utf8` names the
// attribute or key that is not UTF-8, if any: the contract refuses it on every backend.
// (The C++ core does not check it yet; the bindings do, until it does.)
Message ToMessage(nb::handle data, nb::handle attributes, nb::handle ordering_key,
                  std::string* not_utf8) {
  Message m;
  m.data = TextOrBytes(data, "data");
  if (!attributes.is_none()) {
    if (!PyDict_Check(attributes.ptr())) {
      throw nb::type_error(absl::StrCat("attributes must be a dict[str, str], not ",
                                        Py_TYPE(attributes.ptr())->tp_name)
                               .c_str());
    }
    for (auto [k, v] : nb::borrow<nb::dict>(attributes)) {
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

}  // namespace

void StopCompleter() { Completer::Get().Stop(); }

void PyPublisher::CheckOpen() const {
  if (closed_.load()) {
    ThrowStatus(absl::FailedPreconditionError(
        absl::StrCat("the publisher for topic '", topic_, "' is closed; open a new one")));
  }
}

void PyPublisher::Publish(nb::handle data, nb::handle attributes, nb::handle ordering_key,
                          nb::handle future) {
  CheckOpen();
  std::string not_utf8;
  Message m = ToMessage(data, attributes, ordering_key, &not_utf8);
  if (!not_utf8.empty()) {
    future.attr("set_exception")(MakeException(absl::InvalidArgumentError(absl::StrCat(
        "publish to '", topic_, "': ", not_utf8,
        " is not valid UTF-8; attributes and ordering keys must be UTF-8 on every backend"))));
    return;
  }
  PyObject* f = future.inc_ref().ptr();
  PublishFuture result;
  {
    nb::gil_scoped_release release;  // Publish blocks while max_pending_messages are unsent
    result = publisher_.Publish(std::move(m));
  }
  result.then([f](const absl::StatusOr<MessageId>& r) { Completer::Get().Add(f, r); });
}

void PyPublisher::Flush() {
  CheckOpen();
  absl::Status s;
  {
    nb::gil_scoped_release release;
    s = publisher_.Flush();
  }
  Check(std::move(s));
}

void PyPublisher::Close() {
  if (closed_.exchange(true)) return;
  nb::gil_scoped_release release;
  (void)publisher_.Flush();  // each future has its own result; close only drains
  publisher_.connection()->Shutdown();
}

void BindPublisher(nb::module_& m) {
  nb::class_<PyPublisher>(m, "_Publisher")
      .def("publish", &PyPublisher::Publish, nb::arg("data"), nb::arg("attributes").none(),
           nb::arg("ordering_key").none(), nb::arg("future"))
      .def("flush", &PyPublisher::Flush)
      .def("close", &PyPublisher::Close)
      .def_prop_ro("topic", &PyPublisher::topic)
      .def_prop_ro("closed", &PyPublisher::closed);
}

}  // namespace unibus::python
