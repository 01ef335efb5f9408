// PublisherMetrics and SubscriberMetrics: a client's figures into a MetricsRegistry,
// through the public API only (a decorating PublisherConnection and AckHandlerImpl).
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "unibus/metrics.h"

namespace unibus {
namespace {

constexpr char kPublished[] = "unibus_messages_published_total";
constexpr char kPublishFailures[] = "unibus_publish_failures_total";

// A registry lookup that cannot fail: our own names and labels are valid.
template <typename T>
T* Must(absl::StatusOr<T*> m) {
  return m.ok() ? *m : nullptr;
}

class CountingPublisher : public PublisherConnection {
 public:
  CountingPublisher(std::shared_ptr<PublisherConnection> inner,
                    std::shared_ptr<MetricsRegistry> registry, std::string topic)
      : inner_(std::move(inner)), registry_(std::move(registry)), topic_(std::move(topic)) {
    published_ =
        Must(registry_->counter(kPublished, "Messages the broker accepted.", {{"topic", topic_}}));
  }

  // The returned future is set only after the publish is counted, so a caller that
  // reads the registry after get() sees its own publish (a then() on the inner
  // future could run after get() returned on another thread).
  PublishFuture Publish(Message m) override { return Counted(inner_->Publish(std::move(m))); }
  std::vector<PublishFuture> PublishMany(std::vector<Message> messages) override {
    std::vector<PublishFuture> fs = inner_->PublishMany(std::move(messages));
    for (PublishFuture& f : fs) f = Counted(std::move(f));
    return fs;
  }
  // Send keeps PublisherConnection's default, a Publish whose future is dropped: the
  // counters need each message's outcome, which only a future carries (so a counted
  // Send costs what a Publish does).
  absl::Status Flush() override { return inner_->Flush(); }
  void Shutdown() override { inner_->Shutdown(); }
  void ResumePublish(const std::string& ordering_key) override {
    inner_->ResumePublish(ordering_key);
  }

 private:
  PublishFuture Counted(PublishFuture f) {
    if (f.is_ready()) {
      Count(registry_, published_, topic_, f.get());
      return f;
    }
    auto counted = std::make_shared<Promise<absl::StatusOr<MessageId>>>();
    PublishFuture out = counted->get_future();
    f.then([registry = registry_, published = published_, topic = topic_,
            counted](const absl::StatusOr<MessageId>& r) {
      Count(registry, published, topic, r);
      counted->set_value(r);
    });
    return out;
  }

  std::shared_ptr<PublisherConnection> inner_;
  std::shared_ptr<MetricsRegistry> registry_;
  std::string topic_;
  Counter* published_ = nullptr;

  static void Count(const std::shared_ptr<MetricsRegistry>& registry, Counter* published,
                    const std::string& topic, const absl::StatusOr<MessageId>& r) {
    if (r.ok()) {
      if (published != nullptr) published->Increment();
      return;
    }
    if (auto* c = Must(registry->counter(
            kPublishFailures, "Publishes that failed, by status code.",
            {{"topic", topic}, {"code", absl::StatusCodeToString(r.status().code())}}))) {
      c->Increment();
    }
  }
};

}  // namespace

PublisherMetrics::PublisherMetrics(std::shared_ptr<MetricsRegistry> registry, std::string topic)
    : registry_(std::move(registry)), topic_(std::move(topic)) {
  // Present from the start, so a scrape shows 0 rather than nothing.
  (void)Must(registry_->counter(kPublished, "Messages the broker accepted.", {{"topic", topic_}}));
}

Publisher PublisherMetrics::Wrap(const Publisher& p) const {
  return p.WithConnection(std::make_shared<CountingPublisher>(p.connection(), registry_, topic_));
}

struct SubscriberMetrics::Figures {
  std::shared_ptr<MetricsRegistry> registry;  // keeps the metrics below alive
  Counter* redelivered = nullptr;
  Histogram* handler = nullptr;
  Histogram* latency = nullptr;
};

namespace {

class TimedAck : public AckHandlerImpl {
 public:
  TimedAck(AckHandler inner, std::shared_ptr<SubscriberMetrics::Figures> figures,
           absl::Time published)
      : inner_(std::move(inner)),
        figures_(std::move(figures)),
        delivered_(absl::Now()),
        published_(published) {}

  void ack() override {
    const absl::Time now = Settled();
    if (figures_->latency != nullptr && published_ != absl::InfinitePast())
      figures_->latency->Observe(absl::ToDoubleSeconds(now - published_));
    std::move(inner_).ack();
  }
  void nack(std::string reason) override {
    Settled();
    std::move(inner_).nack(std::move(reason));
  }
  void reject(std::string reason) override {
    Settled();
    std::move(inner_).reject(std::move(reason));
  }
  void dropped(std::string) override {
    Settled();
    AckHandler gone = std::move(inner_);  // the dispatcher sees its own handler dropped
  }
  int delivery_attempt() const override { return inner_.delivery_attempt(); }

 private:
  absl::Time Settled() {
    const absl::Time now = absl::Now();
    if (figures_->handler != nullptr)
      figures_->handler->Observe(absl::ToDoubleSeconds(now - delivered_));
    return now;
  }

  AckHandler inner_;
  std::shared_ptr<SubscriberMetrics::Figures> figures_;
  absl::Time delivered_;
  absl::Time published_;
};

}  // namespace

SubscriberMetrics::SubscriberMetrics(std::shared_ptr<MetricsRegistry> registry,
                                     Subscriber subscriber, std::string subscription)
    : registry_(std::move(registry)), figures_(std::make_shared<Figures>()) {
  figures_->registry = registry_;
  const MetricLabels labels{{"subscription", subscription}};
  figures_->redelivered = Must(registry_->counter(
      "unibus_messages_redelivered_total", "Deliveries after the first of a message.", labels));
  figures_->handler = Must(registry_->histogram(
      "unibus_handler_seconds", "Time from delivery to ack or nack, in seconds.", labels));
  figures_->latency = Must(registry_->histogram("unibus_end_to_end_latency_seconds",
                                                "Time from publish to ack, in seconds.", labels));
  collector_ = registry_->AddCollector([subscriber = std::move(subscriber),
                                        labels](MetricsSnapshot& out) {
    const SubscriberStats s = subscriber.stats();
    auto counter = [&](const char* name, const char* help, std::int64_t v) {
      out.push_back({name, help, MetricType::kCounter, {{labels, static_cast<double>(v), {}}}});
    };
    counter("unibus_messages_delivered_total",
            "Messages handed to a handler or returned by Pull, redeliveries included.",
            s.delivered);
    counter("unibus_messages_acked_total", "Messages acked.", s.acked);
    counter("unibus_messages_nacked_total", "Nacks (each redelivers or dead-letters).", s.nacked);
    // reason: rejected (unprocessable: reject(), undecodable) or max_delivery_attempts.
    MetricLabels rejected = labels, exhausted = labels;
    rejected["reason"] = "rejected";
    exhausted["reason"] = "max_delivery_attempts";
    out.push_back(
        {"unibus_messages_dead_lettered_total",
         "Messages moved to the dead-letter topic (and acked on the source), by reason class.",
         MetricType::kCounter,
         {{rejected, static_cast<double>(s.dead_lettered_rejected), {}},
          {exhausted, static_cast<double>(s.dead_lettered - s.dead_lettered_rejected), {}}}});
    out.push_back({"unibus_messages_outstanding",
                   "Messages delivered and not yet settled.",
                   MetricType::kGauge,
                   {{labels, static_cast<double>(s.outstanding), {}}}});
  });
}

SubscriberMetrics::~SubscriberMetrics() { registry_->RemoveCollector(collector_); }

MessageHandler SubscriberMetrics::Wrap(MessageHandler handler) const {
  return [figures = figures_, handler = std::move(handler)](Message m, AckHandler ack) {
    if (m.delivery_attempt > 1 && figures->redelivered != nullptr)
      figures->redelivered->Increment();
    const absl::Time published = m.publish_time;
    handler(std::move(m),
            AckHandler(std::make_unique<TimedAck>(std::move(ack), figures, published)));
  };
}

void SubscriberMetrics::Wrap(std::vector<PulledMessage>& batch) const {
  for (auto& p : batch) {
    if (p.message.delivery_attempt > 1 && figures_->redelivered != nullptr)
      figures_->redelivered->Increment();
    p.ack =
        AckHandler(std::make_unique<TimedAck>(std::move(p.ack), figures_, p.message.publish_time));
  }
}

}  // namespace unibus
