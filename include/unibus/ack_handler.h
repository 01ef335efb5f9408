// Acknowledging a delivered message, exactly once.
#ifndef UNIBUS_ACK_HANDLER_H_
#define UNIBUS_ACK_HANDLER_H_

#include <memory>
#include <string>

#include "unibus/export.h"

namespace unibus {

// What a backend implements behind an AckHandler. Mockable.
class UNIBUS_EXPORT AckHandlerImpl {
 public:
  virtual ~AckHandlerImpl() = default;
  virtual void ack() = 0;
  virtual void nack(std::string reason) = 0;
  // Moves the message to the dead-letter topic now, without further attempts.
  // Default: a nack (redelivered until max_delivery_attempts).
  virtual void reject(std::string reason) { nack(std::move(reason)); }
  // The handler was destroyed (or replaced) unsettled. Default: a nack. The
  // dispatcher overrides it so that a handler dropped while an exception unwinds
  // is dead-lettered with the exception's message as the reason.
  virtual void dropped(std::string reason) { nack(std::move(reason)); }
  virtual int delivery_attempt() const = 0;
};

// Settles one delivered message. Move-only: ack() or nack() consumes it, so a
// message is settled exactly once. Destroying an unsettled handler nacks the message
// ("dropped"). Thread-safe to call from any thread; never blocks on the network.
class UNIBUS_EXPORT AckHandler {
 public:
  AckHandler() = default;
  explicit AckHandler(std::unique_ptr<AckHandlerImpl> impl) : impl_(std::move(impl)) {}
  AckHandler(AckHandler&&) noexcept = default;
  AckHandler& operator=(AckHandler&& other) noexcept {
    if (this != &other) {
      reset("handler replaced unsettled");
      impl_ = std::move(other.impl_);
    }
    return *this;
  }
  AckHandler(const AckHandler&) = delete;
  AckHandler& operator=(const AckHandler&) = delete;
  ~AckHandler() { reset("handler dropped unsettled"); }

  // The message was handled: it is never redelivered in normal operation.
  void ack() && {
    auto impl = std::move(impl_);
    if (impl) impl->ack();
  }
  // The message was not handled: it is redelivered after a backoff, or, past the
  // subscription's max delivery attempts, moved to its dead-letter topic with
  // `reason`.
  void nack(std::string reason = "nacked") && {
    auto impl = std::move(impl_);
    if (impl) impl->nack(std::move(reason));
  }
  // The message can never be handled (wrong type, unparsable): it goes to the
  // dead-letter topic at once with `reason`, instead of being retried.
  void reject(std::string reason) && {
    auto impl = std::move(impl_);
    if (impl) impl->reject(std::move(reason));
  }
  int delivery_attempt() const { return impl_ ? impl_->delivery_attempt() : 0; }
  bool settled() const { return impl_ == nullptr; }

 private:
  void reset(const char* reason) {
    auto impl = std::move(impl_);
    if (impl) impl->dropped(reason);
  }
  std::unique_ptr<AckHandlerImpl> impl_;
};

}  // namespace unibus

#endif  // UNIBUS_ACK_HANDLER_H_
