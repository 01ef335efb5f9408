// mem://NAME: an in-process broker. Topics are logs kept in memory; a subscription
// is a cursor into its topic plus leases on the messages it handed out, the same
// model as sqlite://, so both behave alike under the conformance suite.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/batching_publisher.h"
#include "core/registry.h"
#include "core/transport.h"

namespace unibus::mem_internal {
namespace {

using Clock = std::chrono::steady_clock;

struct Stored {
  Message message;  // with id and publish_time set
};

struct Topic {
  std::int64_t base = 0;  // sequence number of log.front()
  std::deque<Stored> log;
  std::int64_t end() const { return base + static_cast<std::int64_t>(log.size()); }
};

struct Lease {
  Clock::time_point deadline;
  int attempts = 0;
};

struct Subscription {
  std::string topic;
  std::int64_t cursor = 0;               // next sequence number never handed out
  std::map<std::int64_t, Lease> leased;  // handed out, unacked
  std::map<std::int64_t, int> released;  // to hand out again -> attempts so far
  absl::Duration ack_deadline = absl::Seconds(30);
  std::string dead_letter_topic;
};

// One named in-process broker, shared by every Broker opened with its URL.
struct State {
  std::mutex mu;
  std::condition_variable cv;                // a topic grew or a lease was released
  std::map<std::string, Topic> topics;       // guarded by mu
  std::map<std::string, Subscription> subs;  // guarded by mu
  std::string url;
};

absl::Status TopicNotFound(const State& s, const std::string& topic) {
  return absl::NotFoundError(absl::StrCat("topic '", topic, "' does not exist in ", s.url,
                                          "; create it first (unibus topics create ", topic, ")"));
}
absl::Status SubNotFound(const State& s, const std::string& sub) {
  return absl::NotFoundError(absl::StrCat("subscription '", sub, "' does not exist in ", s.url,
                                          "; create it (unibus subscriptions create ", sub,
                                          " --topic TOPIC) or set SubscriberOptions::topic"));
}

absl::Status CreateSubscriptionLocked(State& s, const SubscriptionConfig& c) {
  auto t = s.topics.find(c.topic);
  if (t == s.topics.end()) return TopicNotFound(s, c.topic);
  if (s.subs.count(c.name)) {
    return absl::AlreadyExistsError(
        absl::StrCat("subscription '", c.name, "' already exists in ", s.url));
  }
  Subscription sub;
  sub.topic = c.topic;
  sub.cursor = c.start == StartPosition::kEarliest ? t->second.base : t->second.end();
  sub.ack_deadline = c.ack_deadline;
  sub.dead_letter_topic = c.dead_letter_topic;  // recorded; the library dead-letters
  s.subs.emplace(c.name, std::move(sub));
  return absl::OkStatus();
}

class MemSink : public core_internal::BatchSink {
 public:
  explicit MemSink(std::shared_ptr<State> s) : s_(std::move(s)) {}
  absl::StatusOr<std::vector<absl::StatusOr<MessageId>>> PublishBatch(
      const std::string& topic, std::vector<Message>& batch) override {
    std::vector<absl::StatusOr<MessageId>> ids;
    ids.reserve(batch.size());
    {
      std::lock_guard<std::mutex> lock(s_->mu);
      auto t = s_->topics.find(topic);
      if (t == s_->topics.end()) return TopicNotFound(*s_, topic);
      const absl::Time now = absl::Now();
      for (auto& m : batch) {
        m.id = absl::StrCat(t->second.end());
        m.publish_time = now;
        m.topic = topic;
        m.delivery_attempt = 0;
        ids.emplace_back(m.id);
        t->second.log.push_back(Stored{std::move(m)});
      }
    }
    s_->cv.notify_all();
    return ids;
  }

 private:
  std::shared_ptr<State> s_;
};

class MemSource : public core_internal::SubscriptionSource {
 public:
  MemSource(std::shared_ptr<State> s, std::string sub) : s_(std::move(s)), sub_(std::move(sub)) {}

  absl::StatusOr<std::vector<core_internal::Delivery>> Fetch(std::size_t max, std::size_t max_bytes,
                                                             absl::Duration wait) override {
    std::vector<core_internal::Delivery> out;
    const auto until = Clock::now() + absl::ToChronoNanoseconds(wait);
    std::unique_lock<std::mutex> lock(s_->mu);
    for (;;) {
      if (closed_ || interrupted_) return out;
      auto it = s_->subs.find(sub_);
      if (it == s_->subs.end()) return SubNotFound(*s_, sub_);
      Subscription& sub = it->second;
      auto t = s_->topics.find(sub.topic);
      if (t == s_->topics.end()) return TopicNotFound(*s_, sub.topic);
      Topic& topic = t->second;
      const auto now = Clock::now();
      const auto deadline = now + absl::ToChronoNanoseconds(sub.ack_deadline);
      // Expired leases first: their consumer went away without settling them.
      for (auto l = sub.leased.begin(); l != sub.leased.end();) {
        if (l->second.deadline <= now) {
          sub.released.emplace(l->first, l->second.attempts);
          l = sub.leased.erase(l);
        } else {
          ++l;
        }
      }
      std::size_t bytes = 0;
      auto take = [&](std::int64_t seq, int attempts) {
        const Message& m = topic.log[static_cast<std::size_t>(seq - topic.base)].message;
        core_internal::Delivery d{m, absl::StrCat(seq)};
        d.message.delivery_attempt = attempts + 1;
        bytes += m.ByteSize();
        sub.leased[seq] = Lease{deadline, attempts + 1};
        out.push_back(std::move(d));
      };
      for (auto r = sub.released.begin();
           r != sub.released.end() && out.size() < max && bytes < max_bytes;) {
        if (r->first >= topic.base) take(r->first, r->second);
        r = sub.released.erase(r);
      }
      if (sub.cursor < topic.base) sub.cursor = topic.base;
      while (sub.cursor < topic.end() && out.size() < max && bytes < max_bytes) {
        take(sub.cursor++, 0);
      }
      if (!out.empty() || now >= until) return out;
      s_->cv.wait_until(lock, std::min(until, now + std::chrono::milliseconds(50)));
    }
  }

  absl::Status Ack(const std::vector<std::string>& tokens) override {
    return Update(tokens, [](Subscription& sub, std::int64_t seq) { sub.leased.erase(seq); });
  }

  absl::Status Release(const std::vector<std::string>& tokens) override {
    auto s = Update(tokens, [](Subscription& sub, std::int64_t seq) {
      auto l = sub.leased.find(seq);
      if (l == sub.leased.end()) return;
      sub.released.emplace(seq, l->second.attempts);
      sub.leased.erase(l);
    });
    s_->cv.notify_all();
    return s;
  }

  absl::Status ExtendLeases(const std::vector<std::string>& tokens, absl::Duration d) override {
    const auto deadline = Clock::now() + absl::ToChronoNanoseconds(d);
    return Update(tokens, [deadline](Subscription& sub, std::int64_t seq) {
      auto l = sub.leased.find(seq);
      if (l != sub.leased.end()) l->second.deadline = deadline;
    });
  }

  bool needs_lease_extension() const override { return true; }

  void Interrupt() override {
    std::lock_guard<std::mutex> lock(s_->mu);
    interrupted_ = true;
    s_->cv.notify_all();
  }

  void Close() override {
    std::lock_guard<std::mutex> lock(s_->mu);
    closed_ = true;
  }

 private:
  template <typename F>
  absl::Status Update(const std::vector<std::string>& tokens, F f) {
    std::lock_guard<std::mutex> lock(s_->mu);
    auto it = s_->subs.find(sub_);
    if (it == s_->subs.end()) return SubNotFound(*s_, sub_);
    for (const auto& tok : tokens) {
      std::int64_t seq;
      if (absl::SimpleAtoi(tok, &seq)) f(it->second, seq);
    }
    return absl::OkStatus();
  }

  std::shared_ptr<State> s_;
  const std::string sub_;
  bool closed_ = false;       // guarded by s_->mu
  bool interrupted_ = false;  // guarded by s_->mu
};

class MemAdmin : public AdminConnection {
 public:
  explicit MemAdmin(std::shared_ptr<State> s) : s_(std::move(s)) {}

  absl::Status CreateTopic(const TopicConfig& c) override {
    std::lock_guard<std::mutex> lock(s_->mu);
    if (!s_->topics.emplace(c.name, Topic{}).second) {
      return absl::AlreadyExistsError(
          absl::StrCat("topic '", c.name, "' already exists in ", s_->url));
    }
    return absl::OkStatus();
  }
  absl::Status DeleteTopic(const std::string& name) override {
    std::lock_guard<std::mutex> lock(s_->mu);
    if (s_->topics.erase(name) == 0) return TopicNotFound(*s_, name);
    // Subscriptions of a deleted topic go with it.
    for (auto it = s_->subs.begin(); it != s_->subs.end();) {
      it = it->second.topic == name ? s_->subs.erase(it) : std::next(it);
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> ListTopics() override {
    std::lock_guard<std::mutex> lock(s_->mu);
    std::vector<std::string> out;
    for (const auto& [k, v] : s_->topics) out.push_back(k);
    return out;
  }
  absl::StatusOr<TopicInfo> DescribeTopic(const std::string& name) override {
    std::lock_guard<std::mutex> lock(s_->mu);
    auto t = s_->topics.find(name);
    if (t == s_->topics.end()) return TopicNotFound(*s_, name);
    TopicInfo info;
    info.name = name;
    info.messages = static_cast<std::int64_t>(t->second.log.size());
    info.partition_info.push_back(PartitionInfo{0, 0, t->second.base, t->second.end()});
    return info;
  }
  absl::Status CreateSubscription(const SubscriptionConfig& c) override {
    std::lock_guard<std::mutex> lock(s_->mu);
    return CreateSubscriptionLocked(*s_, c);
  }
  absl::Status DeleteSubscription(const std::string& name) override {
    std::lock_guard<std::mutex> lock(s_->mu);
    if (s_->subs.erase(name) == 0) return SubNotFound(*s_, name);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> ListSubscriptions() override {
    std::lock_guard<std::mutex> lock(s_->mu);
    std::vector<std::string> out;
    for (const auto& [k, v] : s_->subs) out.push_back(k);
    return out;
  }
  absl::StatusOr<SubscriptionInfo> DescribeSubscription(const std::string& name) override {
    std::lock_guard<std::mutex> lock(s_->mu);
    auto it = s_->subs.find(name);
    if (it == s_->subs.end()) return SubNotFound(*s_, name);
    const Subscription& sub = it->second;
    SubscriptionInfo info;
    info.name = name;
    info.topic = sub.topic;
    auto t = s_->topics.find(sub.topic);
    const std::int64_t end = t == s_->topics.end() ? sub.cursor : t->second.end();
    info.in_flight = static_cast<std::int64_t>(sub.leased.size());
    info.backlog =
        end - sub.cursor + info.in_flight + static_cast<std::int64_t>(sub.released.size());
    info.ack_deadline = sub.ack_deadline;
    info.dead_letter_topic = sub.dead_letter_topic;
    return info;
  }

 private:
  std::shared_ptr<State> s_;
};

class MemTransport : public core_internal::Transport {
 public:
  MemTransport(std::shared_ptr<State> s, BrokerOptions options)
      : s_(std::move(s)), options_(std::move(options)), admin_(std::make_shared<MemAdmin>(s_)) {}

  // Everything stays in this process: no limit but BrokerOptions::max_message_bytes.
  Capabilities capabilities() const override {
    Capabilities c;
    c.backend = "mem";
    c.durable = false;
    c.multi_process = false;
    c.survives_broker_restart = false;
    c.max_message_bytes = c.max_attributes = c.max_attribute_key_bytes =
        c.max_attribute_value_bytes = c.max_ordering_key_bytes = options_.max_message_bytes;
    return c;
  }

  absl::Status CheckTopic(const std::string& topic) override {
    std::lock_guard<std::mutex> lock(s_->mu);
    return s_->topics.count(topic) ? absl::OkStatus() : TopicNotFound(*s_, topic);
  }

  absl::StatusOr<std::string> SubscriptionTopic(const std::string& subscription,
                                                const std::string& /*expected*/) override {
    std::lock_guard<std::mutex> lock(s_->mu);
    auto it = s_->subs.find(subscription);
    if (it == s_->subs.end()) return SubNotFound(*s_, subscription);
    return it->second.topic;
  }

  absl::StatusOr<std::shared_ptr<PublisherConnection>> MakePublisher(
      const std::string& topic, const PublisherOptions& options) override {
    return core_internal::MakeBatchingPublisher(std::make_shared<MemSink>(s_), topic, options,
                                                options_.max_message_bytes);
  }

  absl::StatusOr<std::shared_ptr<core_internal::SubscriptionSource>> MakeSource(
      const std::string& subscription, const std::string& /*topic*/,
      const SubscriberOptions& options) override {
    std::lock_guard<std::mutex> lock(s_->mu);
    auto it = s_->subs.find(subscription);
    if (it == s_->subs.end()) return SubNotFound(*s_, subscription);
    it->second.ack_deadline = options.ack_deadline;  // the lease its consumers take
    return std::make_shared<MemSource>(s_, subscription);
  }

  std::shared_ptr<AdminConnection> admin() override { return admin_; }
  std::string url() const override { return s_->url; }

 private:
  std::shared_ptr<State> s_;
  BrokerOptions options_;
  std::shared_ptr<MemAdmin> admin_;
};

}  // namespace

void RegisterMemBackend() {
  core_internal::RegisterBackend("mem",
                                 [](const core_internal::Url& url, const BrokerOptions& options)
                                     -> absl::StatusOr<std::shared_ptr<core_internal::Transport>> {
                                   // Brokers of one name share their state while any of them is
                                   // open.
                                   static std::mutex mu;
                                   static auto* brokers =
                                       new std::map<std::string, std::weak_ptr<State>>;
                                   std::lock_guard<std::mutex> lock(mu);
                                   auto& weak = (*brokers)[url.body];
                                   auto state = weak.lock();
                                   if (!state) {
                                     state = std::make_shared<State>();
                                     state->url = absl::StrCat("mem://", url.body);
                                     weak = state;
                                   }
                                   return std::make_shared<MemTransport>(state, options);
                                 });
}

}  // namespace unibus::mem_internal
