// A delivered message together with its acknowledgement, as Python sees it.
#ifndef UNIBUS_PYTHON_MESSAGE_H_
#define UNIBUS_PYTHON_MESSAGE_H_

#include <mutex>
#include <string>

#include "unibus/unibus.h"

namespace unibus::python {

// One delivered message: its value and the AckHandler that settles it. ack(), nack()
// and reject() consume the handler once; dropping an unsettled DeliveredMessage nacks
// it (the C++ rule). Thread-safe: `mu` guards `ack` and `settled_by`.
struct DeliveredMessage {
  DeliveredMessage(Message m, AckHandler h) : message(std::move(m)), ack(std::move(h)) {}
  Message message;
  std::mutex mu;
  AckHandler ack;          // guarded by mu
  std::string settled_by;  // guarded by mu: "ack", "nack" or "reject" once settled

  // Takes the handler for settling as `how`; an unsettled (empty) handler when it
  // was settled before, with `*previous` saying how.
  AckHandler Take(const char* how, std::string* previous) {
    std::lock_guard<std::mutex> lock(mu);
    if (!settled_by.empty()) {
      *previous = settled_by;
      return AckHandler();
    }
    settled_by = how;
    return std::move(ack);
  }
  bool settled() {
    std::lock_guard<std::mutex> lock(mu);
    return !settled_by.empty();
  }
};

}  // namespace unibus::python

#endif  // UNIBUS_PYTHON_MESSAGE_H_
