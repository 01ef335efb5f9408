#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "pipeline/stages.h"
#include "spdlog/logger.h"
#include "unibus/typed.h"

namespace unibus::pipeline {

absl::Status RunSink(Broker& broker, PredictionStore& store, const SinkOptions& o,
                     const std::atomic<bool>& stop, std::atomic<std::int64_t>* stored) {
  SubscriberOptions so;
  so.topic = o.predictions_topic;
  so.start = StartPosition::kEarliest;
  so.max_outstanding_messages = std::max<std::size_t>(1000, o.max_batch * 2);
  auto sub = broker.subscriber(o.subscription, so);
  if (!sub.ok()) return sub.status();
  std::optional<SubscriberMetrics> metrics;
  Histogram* latency = nullptr;  // the one SubscriberMetrics exports
  if (o.metrics) {
    metrics.emplace(o.metrics, *sub, o.subscription);
    latency =
        o.metrics
            ->histogram("unibus_end_to_end_latency_seconds",
                        "Time from publish to ack, in seconds.", {{"subscription", o.subscription}})
            .value_or(nullptr);
  }
  TypedSubscriber<vision::Prediction> typed(*sub);
  std::vector<vision::Prediction> rows;
  absl::Status result;
  while (!stop.load()) {
    auto got = typed.Pull(o.max_batch, absl::Milliseconds(100));
    if (!got.ok()) {
      result = got.status();
      break;
    }
    if (got->empty()) continue;
    rows.clear();
    for (auto& t : *got) rows.push_back(t.value);
    if (auto s = store.Upsert(rows); !s.ok()) {
      // Not stored: let them come back rather than lose them.
      if (o.logger)
        o.logger->warn("sink: {} predictions not stored, will retry: {}", rows.size(),
                       s.ToString());
      for (auto& t : *got) std::move(t.ack).nack(std::string(s.message()));
      continue;
    }
    if (o.on_stored) o.on_stored(rows);
    const absl::Time acked = absl::Now();
    for (auto& t : *got) {
      std::move(t.ack).ack();
      if (latency) latency->Observe(absl::ToDoubleSeconds(acked - t.envelope.publish_time));
    }
    if (stored) *stored += static_cast<std::int64_t>(rows.size());
  }
  sub->Shutdown();
  return result;
}

}  // namespace unibus::pipeline
