// What the dispatcher's tests share: a scripted SubscriptionSource, a mocked
// dead-letter topic, and a dispatcher wired to both.
#ifndef UNIBUS_CORE_DISPATCHER_TEST_UTIL_H_
#define UNIBUS_CORE_DISPATCHER_TEST_UTIL_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/dispatcher.h"
#include "unibus/broker.h"
#include "unibus/mocks/mock_publisher_connection.h"

namespace unibus::core_internal {

// A source holding a fixed list of messages; records acks and releases.
class FakeSource : public SubscriptionSource {
 public:
  void Add(Message m) {
    std::lock_guard<std::mutex> lock(mu);
    pending.push_back(Delivery{std::move(m), absl::StrCat(next_token++)});
  }
  absl::StatusOr<std::vector<Delivery>> Fetch(std::size_t max, std::size_t,
                                              absl::Duration wait) override {
    std::vector<Delivery> out;
    {
      std::lock_guard<std::mutex> lock(mu);
      max_fetch_request = std::max(max_fetch_request, max);
      while (!pending.empty() && out.size() < max) {
        out.push_back(std::move(pending.front()));
        pending.pop_front();
      }
      leased += static_cast<int>(out.size());
      max_leased = std::max(max_leased, leased);
    }
    if (out.empty())
      std::this_thread::sleep_for(absl::ToChronoNanoseconds(std::min(wait, absl::Milliseconds(5))));
    return out;
  }
  absl::Status Ack(const std::vector<std::string>& tokens) override {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& t : tokens) acked.push_back(t);
    leased -= static_cast<int>(tokens.size());
    return absl::OkStatus();
  }
  absl::Status Release(const std::vector<std::string>& tokens) override {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& t : tokens) released.insert(t);
    return absl::OkStatus();
  }
  absl::Status ExtendLeases(const std::vector<std::string>&, absl::Duration) override {
    return absl::OkStatus();
  }
  bool needs_lease_extension() const override { return false; }
  void Close() override { closed = true; }
  void SetWithdrawer(const Withdrawer& w) override {
    std::lock_guard<std::mutex> lock(mu);
    withdraw = w;
  }

  std::mutex mu;
  std::deque<Delivery> pending;
  std::vector<std::string> acked;
  std::set<std::string> released;
  int next_token = 0, leased = 0, max_leased = 0;
  std::size_t max_fetch_request = 0;
  std::atomic<bool> closed{false};
  Withdrawer withdraw;  // the dispatcher's
};

// The dead-letter topic: a strict gMock publisher (the dispatcher only publishes to
// it) that records each copy and answers with `result` (OK by default), at once or,
// when `hold` is set, when the test calls Answer().
class Dlq {
 public:
  Dlq() : mock(std::make_shared<::testing::StrictMock<unibus_mocks::MockPublisherConnection>>()) {
    EXPECT_CALL(*mock, Publish).WillRepeatedly([this](Message m) { return Record(std::move(m)); });
  }
  // Completes the held publishes.
  void Answer() {
    std::vector<std::pair<Promise<absl::StatusOr<MessageId>>, absl::Status>> answer;
    {
      std::lock_guard<std::mutex> lock(mu);
      answer.swap(held);
    }
    for (auto& [p, r] : answer) {
      if (r.ok())
        p.set_value(MessageId("dlq-1"));
      else
        p.set_value(r);
    }
  }
  std::size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return got.size();
  }

  std::shared_ptr<::testing::StrictMock<unibus_mocks::MockPublisherConnection>> mock;
  std::mutex mu;
  std::vector<Message> got;
  int publishes = 0;
  std::function<absl::Status(int publish)> result;  // called under mu
  bool hold = false;
  std::vector<std::pair<Promise<absl::StatusOr<MessageId>>, absl::Status>> held;

 private:
  PublishFuture Record(Message m) {
    std::lock_guard<std::mutex> lock(mu);
    ++publishes;
    const absl::Status r = result ? result(publishes) : absl::OkStatus();
    if (r.ok()) got.push_back(std::move(m));
    if (hold) {
      Promise<absl::StatusOr<MessageId>> p;
      auto f = p.get_future();
      held.emplace_back(std::move(p), r);
      return f;
    }
    if (!r.ok()) return MakeReadyFuture<absl::StatusOr<MessageId>>(r);
    return MakeReadyFuture<absl::StatusOr<MessageId>>(MessageId("dlq-1"));
  }
};

inline SubscriberOptions FastOptions() {
  SubscriberOptions o;
  o.min_backoff = absl::Milliseconds(1);
  o.max_backoff = absl::Milliseconds(4);
  o.max_delivery_attempts = 3;
  o.dead_letter_topic = "sub-a.dead-letter";
  o.shutdown_timeout = absl::Seconds(5);
  return o;
}

struct Rig {
  explicit Rig(SubscriberOptions o = FastOptions(), std::size_t max_message_bytes = 10 << 20) {
    source = std::make_shared<FakeSource>();
    dlq = std::make_shared<Dlq>();
    auto d = dlq;
    conn = MakeDispatcher(
        source, DispatcherConfig{"sub-a", "topic-a", o, nullptr},
        [d, max_message_bytes](const std::string& topic) -> absl::StatusOr<DeadLetterTarget> {
          EXPECT_EQ(topic, "sub-a.dead-letter");
          return DeadLetterTarget{d->mock, max_message_bytes};
        });
  }
  std::shared_ptr<FakeSource> source;
  std::shared_ptr<Dlq> dlq;
  std::shared_ptr<SubscriberConnection> conn;
};

inline bool WaitFor(const std::function<bool()>& pred, absl::Duration limit = absl::Seconds(10)) {
  const absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

// Waits (up to 10 s) until the rig's source has `n` acks.
inline bool WaitForAcks(Rig& rig, std::size_t n) {
  return WaitFor([&] {
    std::lock_guard<std::mutex> l(rig.source->mu);
    return rig.source->acked.size() == n;
  });
}

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_DISPATCHER_TEST_UTIL_H_
