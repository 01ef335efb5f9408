// The subscriber and session as the bindings hold them.
#ifndef UNIBUS_PYTHON_SUBSCRIBER_H_
#define UNIBUS_PYTHON_SUBSCRIBER_H_

#include <atomic>
#include <memory>
#include <string>

#include "common.h"
#include "unibus/unibus.h"

namespace unibus::python {

// A running subscribe(): stop() drains and joins (with the GIL released).
class PySession {
 public:
  explicit PySession(Session s) : session_(std::move(s)) {}
  ~PySession() { Stop(); }
  void Stop();
  // Blocks up to `timeout` seconds (None: until the session ends by itself);
  // raises the error that ended it. Ctrl-C interrupts it.
  bool Wait(double timeout);
  bool stopped() const { return stopped_.load(); }

 private:
  Session session_;
  std::atomic<bool> stopped_{false};
};

// A Subscriber plus its closed state. Thread-safe.
class PySubscriber {
 public:
  PySubscriber(Subscriber s, std::string name)
      : subscriber_(std::move(s)), name_(std::move(name)) {}
  ~PySubscriber() {
    if (!closed_.exchange(true)) {
      subscriber_.Shutdown();
      released_->store(true);
    }
  }

  // Up to `max_messages`, waiting up to `timeout` seconds (negative: until one comes)
  // for the first. The GIL is released while waiting; Ctrl-C interrupts.
  nb::list Pull(std::size_t max_messages, double timeout);
  // Calls `callback(message)` on library threads, with the GIL taken only around it.
  std::unique_ptr<PySession> Subscribe(nb::object callback);
  SubscriberStats Stats() const { return subscriber_.stats(); }
  void Close();
  const std::string& name() const { return name_; }
  bool closed() const { return closed_.load(); }

 private:
  void CheckOpen() const;
  Subscriber subscriber_;
  std::string name_;
  std::atomic<bool> closed_{false};
  // Set once close() has shut the subscriber down, which released every unsettled
  // message; shared with the messages it delivered, whose settling then raises. (Not
  // closed_: an ack while close() waits for running callbacks still counts.)
  std::shared_ptr<std::atomic<bool>> released_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace unibus::python

#endif  // UNIBUS_PYTHON_SUBSCRIBER_H_
