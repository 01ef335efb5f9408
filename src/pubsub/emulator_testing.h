// One emulator shared by the tests of a binary: started on first use, stopped at
// exit. Tests call UNIBUS_NEED_EMULATOR() first; it skips them, saying why, when
// the emulator cannot run here.
#ifndef UNIBUS_PUBSUB_EMULATOR_TESTING_H_
#define UNIBUS_PUBSUB_EMULATOR_TESTING_H_

#include <gtest/gtest.h>

#include <string>

#include "absl/status/status.h"
#include "pubsub/emulator.h"

namespace unibus::pubsub_internal {

// The shared emulator, or null with `*why` set.
Emulator* SharedEmulator(absl::Status* why);

// A project name unique within the run.
std::string FreshProject();

#define UNIBUS_NEED_EMULATOR(var)                            \
  absl::Status var##_why;                                    \
  ::unibus::pubsub_internal::Emulator* var =                 \
      ::unibus::pubsub_internal::SharedEmulator(&var##_why); \
  if (var == nullptr) GTEST_SKIP() << "Pub/Sub emulator not available, test skipped: " << var##_why

}  // namespace unibus::pubsub_internal

#endif  // UNIBUS_PUBSUB_EMULATOR_TESTING_H_
