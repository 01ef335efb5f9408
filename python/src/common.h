// What every binding file shares: status -> Python exception, durations, GIL rules.
//
// Rules for every binding: the GIL is released around any call that may block (the
// network, a lock a library thread holds while it waits for the GIL, a join); a
// library thread takes the GIL only to run Python code, and never while it holds a
// lock of its own; a Python object is touched only with the GIL held.
#ifndef UNIBUS_PYTHON_COMMON_H_
#define UNIBUS_PYTHON_COMMON_H_

#include <nanobind/nanobind.h>

#include <cmath>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace unibus {
class Broker;
}

namespace unibus::python {

namespace nb = nanobind;

// A non-OK status on its way to Python: the registered translator raises the
// unibus exception for its code (unibus.NotFound, ...) with the status message.
struct StatusError {
  absl::Status status;
};

[[noreturn]] inline void ThrowStatus(absl::Status s) { throw StatusError{std::move(s)}; }
inline void Check(absl::Status s) {
  if (!s.ok()) ThrowStatus(std::move(s));
}
template <typename T>
T Value(absl::StatusOr<T> v) {
  if (!v.ok()) ThrowStatus(v.status());
  return *std::move(v);
}

// The unibus exception instance for `s` (GIL held). For futures' set_exception.
nb::object MakeException(const absl::Status& s);

// Seconds (float) <-> absl::Duration, the unit of every duration in the Python API.
// NaN is refused (absl would make it an infinite duration). Infinity passes, for the
// library to judge per option (allowed for shutdown_timeout, refused for ack_deadline).
inline absl::Duration Seconds(double s, const char* what = "a duration") {
  if (std::isnan(s)) {
    ThrowStatus(
        absl::InvalidArgumentError(absl::StrCat(what, " must be a number of seconds, got nan")));
  }
  return absl::Seconds(s);
}
inline double ToSeconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

// True while Python code may run on this thread's request: the interpreter is up and
// not finalizing. A library thread checks it before taking the GIL.
bool PythonAlive();

// A Python callable that a library thread may outlive: released with the GIL held, or
// leaked when the interpreter is already gone (touching it then would crash).
struct GilSafeCallable {
  explicit GilSafeCallable(nb::object f) : fn(std::move(f)) {}
  ~GilSafeCallable() {
    if (PythonAlive()) {
      nb::gil_scoped_acquire gil;
      fn.reset();
    } else {
      fn.release();
    }
  }
  nb::object fn;
};

// Python text or bytes as the UTF-8 (or raw) bytes C++ takes. Text is encoded with
// surrogateescape, so bytes that came in undecodable go back out unchanged and meet
// the C++ rule for non-UTF-8 (InvalidArgument). Anything else: TypeError naming
// `what` and the expected types. `*utf8` (when given) is cleared when the result
// may not be valid UTF-8 (it came from bytes, or from text with lone surrogates).
std::string TextOrBytes(nb::handle h, const char* what, bool* utf8 = nullptr);

// True when `s` is valid UTF-8.
bool IsUtf8(const std::string& s);

// C++ bytes as Python str (UTF-8, surrogateescape for bytes that are not UTF-8).
nb::str Text(const std::string& s);

void BindErrors(nb::module_& m);
void BindMessage(nb::module_& m);
void BindPublisher(nb::module_& m);
void BindSubscriber(nb::module_& m);
void BindBroker(nb::module_& m);
void BindAdmin(nb::module_& m);
void BindVision(nb::module_& m);

// The C++ Broker inside a unibus._Broker (TypeError for anything else).
Broker& BrokerOf(nb::handle h);

// Stops the thread that completes publish futures (at interpreter exit).
void StopCompleter();

}  // namespace unibus::python

#endif  // UNIBUS_PYTHON_COMMON_H_
