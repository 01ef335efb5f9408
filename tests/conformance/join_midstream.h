// A second consumer of one subscription joins while the first holds messages: the
// scenario of conformance's ACompetingConsumerJoiningMidStreamGetsNothingTwice and of
// real_kafka_test's AMemberJoiningACooperativeGroupMidStreamGetsNothingTwice.
#ifndef UNIBUS_TESTS_CONFORMANCE_JOIN_MIDSTREAM_H_
#define UNIBUS_TESTS_CONFORMANCE_JOIN_MIDSTREAM_H_

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "conformance/checker.h"
#include "unibus/unibus.h"

namespace unibus::conformance {

struct MidStreamJoin {
  int by_first = 0;   // messages the first consumer handled
  int by_second = 0;  // messages the second one handled
};

// Subscribes `first` with a handler that records each delivery in `checker` and takes
// 10 ms a message; once it handled `held` messages (at most 30 s), subscribes the
// consumer `make_second` returns the same way; waits until `checker` saw `n` distinct
// messages (at most 60 s) and 300 ms more for late duplicates, then stops both.
// A failed subscribe, or a first consumer that got fewer than `held`, fails the test.
inline MidStreamJoin JoinMidStream(Subscriber& first,
                                   absl::FunctionRef<absl::StatusOr<Subscriber>()> make_second,
                                   Checker& checker, int n, int held) {
  std::atomic<int> by1{0}, by2{0};
  auto handler = [&](std::atomic<int>& by) {
    return [&](Message m, AckHandler h) {
      checker.Receive(m.data);
      ++by;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      std::move(h).ack();
    };
  };
  auto s1 = first.Subscribe(handler(by1));
  EXPECT_TRUE(s1.ok()) << s1.status();
  if (!s1.ok()) return {};
  absl::Time end = absl::Now() + absl::Seconds(30);
  while (by1.load() < held && absl::Now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(by1.load(), held) << "the first consumer got fewer messages than it should hold";
  auto second = make_second();
  EXPECT_TRUE(second.ok()) << second.status();
  absl::StatusOr<Session> s2 = absl::UnknownError("not subscribed");
  if (second.ok()) {
    s2 = second->Subscribe(handler(by2));
    EXPECT_TRUE(s2.ok()) << s2.status();
  }
  end = absl::Now() + absl::Seconds(60);
  while (s2.ok() && checker.distinct() < n && absl::Now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  s1->Stop();
  if (s2.ok()) s2->Stop();
  return {by1.load(), by2.load()};
}

}  // namespace unibus::conformance

#endif  // UNIBUS_TESTS_CONFORMANCE_JOIN_MIDSTREAM_H_
