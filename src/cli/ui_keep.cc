// --ui-keep; apart from ui_server.cc so that its test needs no signal handling.
#include <iostream>

#include "absl/time/clock.h"
#include "cli/common.h"
#include "cli/ui_server.h"

namespace unibus::cli {

void KeepServingUntilSignal() {
  InstallStopHandler();
  std::cerr << "unibus: the run is over; the page keeps its final figures until Ctrl-C\n";
  while (!StopRequested()) absl::SleepFor(absl::Milliseconds(100));
}

}  // namespace unibus::cli
