// The extension module unibus._unibus: the bindings, one file per C++ concept.
#include "common.h"

NB_MODULE(_unibus, m) {
  using namespace unibus::python;
  m.doc() = "unibus C++ core (internal; use the unibus package)";
  BindErrors(m);
  BindMessage(m);
  BindPublisher(m);
  BindSubscriber(m);
  BindBroker(m);
  BindAdmin(m);
  BindVision(m);
  m.def(
      "_shutdown",
      [] {
        nb::gil_scoped_release release;
        StopCompleter();
      },
      "Completes queued publish results and stops their thread (at interpreter exit).");
}
