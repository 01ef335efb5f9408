// The publisher as the bindings hold it.
#ifndef UNIBUS_PYTHON_PUBLISHER_H_
#define UNIBUS_PYTHON_PUBLISHER_H_

#include <atomic>
#include <string>

#include "common.h"
#include "unibus/unibus.h"

namespace unibus::python {

// The result of one publish, in C++: Python pays nothing when it completes unless a
// callback was added (unibus.PublishFuture wraps it in the concurrent.futures API).
class PublishResult {
 public:
  explicit PublishResult(PublishFuture f) : future_(std::move(f)) {}
  bool done() const { return future_.is_ready(); }
  // Waits up to `timeout` seconds (negative: no limit) with the GIL released; false on
  // timeout. Ctrl-C raises KeyboardInterrupt.
  bool Wait(double timeout);
  // The message id; raises the publish's unibus.Error, or TimeoutError.
  nb::object Result(double timeout);
  // The publish's unibus.Error, or None; TimeoutError if it has no result in time.
  nb::object Exception(double timeout);
  // Calls `fn()` once the result is set: at once when it is, else on a library thread.
  void AddDoneCallback(nb::object fn);

 private:
  PublishFuture future_;
};

// A Publisher plus its closed state. Thread-safe.
class PyPublisher {
 public:
  PyPublisher(Publisher p, std::string topic)
      : publisher_(std::move(p)), topic_(std::move(topic)) {}
  ~PyPublisher() {
    if (!closed_.exchange(true)) publisher_.Shutdown();
  }

  // Queues a publish (GIL released while Publish blocks on backpressure). Returns a
  // unibus.PublishFuture over a PublishResult.
  nb::object Publish(nb::handle data, nb::handle attributes, nb::handle ordering_key);
  // Publisher::Send: no future; raises what is refused at once (unibus.InvalidArgument,
  // FailedPrecondition); a later failure is raised by the next flush().
  void Send(nb::handle data, nb::handle attributes, nb::handle ordering_key);
  void Flush();
  // `flush`: wait for every pending result first, as long as the backend takes (Kafka:
  // up to message.timeout.ms), and raise a send()'s failure. Without (interpreter exit):
  // only Shutdown, which bounds its own wait.
  void Close(bool flush = true);
  const std::string& topic() const { return topic_; }
  bool closed() const { return closed_.load(); }

 private:
  void CheckOpen() const;
  Publisher publisher_;
  std::string topic_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> sent_{false};  // a send() since the last flush(): close() raises for it
};

}  // namespace unibus::python

#endif  // UNIBUS_PYTHON_PUBLISHER_H_
