// DrainPull: pulls and acks into a Checker, the drain loop of the tests that count lost
// and duplicated messages.
#ifndef UNIBUS_TESTS_CONFORMANCE_DRAIN_H_
#define UNIBUS_TESTS_CONFORMANCE_DRAIN_H_

#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "conformance/checker.h"
#include "unibus/unibus.h"

namespace unibus::conformance {

// Pulls and acks, recording each message's data with `checker`, until it has seen `want`
// distinct messages or `limit` passed (the caller then checks checker.Report()).
inline void DrainPull(Subscriber& sub, Checker& checker, int want,
                      absl::Duration limit = absl::Seconds(30)) {
  const absl::Time end = absl::Now() + limit;
  while (checker.distinct() < want && absl::Now() < end) {
    auto got = sub.Pull(100, absl::Milliseconds(200));
    ASSERT_TRUE(got.ok()) << got.status();
    for (auto& m : *got) {
      checker.Receive(m.message.data);
      std::move(m.ack).ack();
    }
  }
}

}  // namespace unibus::conformance

#endif  // UNIBUS_TESTS_CONFORMANCE_DRAIN_H_
