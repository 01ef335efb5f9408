// A delivered message together with its acknowledgement, as Python sees it.
#ifndef UNIBUS_PYTHON_MESSAGE_H_
#define UNIBUS_PYTHON_MESSAGE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common.h"
#include "unibus/unibus.h"

namespace unibus::python {

// One delivered message: its value and the AckHandler that settles it. ack(), nack()
// and reject() consume the handler once; dropping an unsettled DeliveredMessage nacks
// it (the C++ rule). Thread-safe: only the caller that moves `state` from kUnsettled
// touches `ack` (no lock, no allocation per settle).
struct DeliveredMessage {
  enum State : std::uint8_t { kUnsettled = 0, kAck, kNack, kReject };

  DeliveredMessage(Message m, AckHandler h, std::shared_ptr<const std::atomic<bool>> closed)
      : message(std::move(m)), ack(std::move(h)), subscriber_closed(std::move(closed)) {}
  Message message;
  AckHandler ack;  // owned by whoever moved `state` away from kUnsettled
  // Set once its subscriber's close() has released the unsettled messages (null:
  // none): settling it then raises instead of doing nothing.
  std::shared_ptr<const std::atomic<bool>> subscriber_closed;
  std::atomic<std::uint8_t> state{kUnsettled};

  // Takes the handler for settling as `how`; an unsettled (empty) handler when it
  // was settled before, with `*previous` saying how.
  AckHandler Take(State how, State* previous) {
    std::uint8_t expected = kUnsettled;
    if (!state.compare_exchange_strong(expected, how, std::memory_order_acq_rel)) {
      *previous = static_cast<State>(expected);
      return AckHandler();
    }
    *previous = kUnsettled;
    return std::move(ack);
  }
  bool settled() const { return state.load(std::memory_order_acquire) != kUnsettled; }
};

// "ack", "nack" or "reject".
const char* StateName(DeliveredMessage::State s);

// A new unibus.Message owning `m` and `h`, allocated inside its Python object (one
// allocation, no separate C++ heap object). Needs the GIL.
nb::object WrapMessage(Message m, AckHandler h,
                       std::shared_ptr<const std::atomic<bool>> subscriber_closed = nullptr);

}  // namespace unibus::python

#endif  // UNIBUS_PYTHON_MESSAGE_H_
