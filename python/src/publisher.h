// The publisher as the bindings hold it.
#ifndef UNIBUS_PYTHON_PUBLISHER_H_
#define UNIBUS_PYTHON_PUBLISHER_H_

#include <atomic>
#include <string>

#include "common.h"
#include "unibus/unibus.h"

namespace unibus::python {

// A Publisher plus its closed state. Thread-safe.
class PyPublisher {
 public:
  PyPublisher(Publisher p, std::string topic)
      : publisher_(std::move(p)), topic_(std::move(topic)) {}
  ~PyPublisher() {
    if (!closed_.exchange(true)) publisher_.connection()->Shutdown();
  }

  // Publishes; `future` (a concurrent.futures.Future) gets the id or the exception.
  void Publish(nb::handle data, nb::handle attributes, nb::handle ordering_key, nb::handle future);
  void Flush();
  void Close();
  const std::string& topic() const { return topic_; }
  bool closed() const { return closed_.load(); }

 private:
  void CheckOpen() const;
  Publisher publisher_;
  std::string topic_;
  std::atomic<bool> closed_{false};
};

}  // namespace unibus::python

#endif  // UNIBUS_PYTHON_PUBLISHER_H_
