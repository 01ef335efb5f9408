// Metrics: counters, gauges and histograms a client's figures go into, a snapshot of
// them for a library user's own exporter, and the Prometheus text exposition format.
#ifndef UNIBUS_METRICS_H_
#define UNIBUS_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "unibus/export.h"
#include "unibus/publisher.h"
#include "unibus/subscriber.h"

namespace unibus {

// Label name -> value, e.g. {{"subscription", "classify"}}. Sorted, so one set of
// labels always prints the same.
using MetricLabels = std::map<std::string, std::string>;

enum class MetricType { kCounter, kGauge, kHistogram };

// A histogram at one moment: `bucket_counts[i]` observations were <= upper_bounds[i]
// (and above the bound before); the last entry counts those above every bound (+Inf).
struct UNIBUS_EXPORT HistogramData {
  std::vector<double> upper_bounds;
  std::vector<std::uint64_t> bucket_counts;  // upper_bounds.size() + 1 entries
  double sum = 0;
  std::uint64_t count = 0;
};

struct UNIBUS_EXPORT MetricPoint {
  MetricLabels labels;
  double value = 0;         // counters and gauges
  HistogramData histogram;  // histograms
};

// One metric name with every label set it has.
struct UNIBUS_EXPORT MetricFamily {
  std::string name;  // Prometheus style: unibus_messages_acked_total
  std::string help;
  MetricType type = MetricType::kCounter;
  std::vector<MetricPoint> points;
};

using MetricsSnapshot = std::vector<MetricFamily>;

// A count that only goes up. Thread-safe, lock-free.
class UNIBUS_EXPORT Counter {
 public:
  void Increment(double n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down. Thread-safe, lock-free.
class UNIBUS_EXPORT Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double n) { value_.fetch_add(n, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets. Thread-safe (a short lock per Observe).
class UNIBUS_EXPORT Histogram {
 public:
  // `upper_bounds` ascending; the +Inf bucket is implicit.
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double v);
  HistogramData data() const;

 private:
  mutable std::mutex mu_;
  HistogramData data_;  // guarded by mu_
};

// Seconds, from 100 us to 60 s: handler time and end-to-end latency.
UNIBUS_EXPORT std::vector<double> LatencyBuckets();

// Owns metrics by name and labels. Thread-safe. Metrics live as long as the
// registry; the pointers it returns stay valid until then.
class UNIBUS_EXPORT MetricsRegistry {
 public:
  // The metric `name` with `labels`, created on first use. InvalidArgument when
  // `name` or a label name is not a valid Prometheus name, or `name` was first
  // registered with another type.
  [[nodiscard]] absl::StatusOr<Counter*> counter(std::string_view name, std::string_view help,
                                                 const MetricLabels& labels = {});
  [[nodiscard]] absl::StatusOr<Gauge*> gauge(std::string_view name, std::string_view help,
                                             const MetricLabels& labels = {});
  // `upper_bounds` is used when the metric is created; LatencyBuckets() if empty.
  [[nodiscard]] absl::StatusOr<Histogram*> histogram(std::string_view name, std::string_view help,
                                                     const MetricLabels& labels = {},
                                                     std::vector<double> upper_bounds = {});

  // A function Snapshot() calls to add figures read at that moment (for example
  // from Subscriber::stats()). It runs on the snapshotting thread with no registry
  // lock held; it must not call Snapshot. Returns an id for RemoveCollector.
  using Collector = std::function<void(MetricsSnapshot& out)>;
  int AddCollector(Collector c);
  // After it returns, the collector is not running and will not run again.
  void RemoveCollector(int id);

  // Every metric and every collector's figures, families sorted by name (points of
  // one name merged into one family).
  MetricsSnapshot Snapshot() const;

 private:
  struct Entry {
    MetricType type;
    std::string help;
    std::map<MetricLabels, std::unique_ptr<Counter>> counters;
    std::map<MetricLabels, std::unique_ptr<Gauge>> gauges;
    std::map<MetricLabels, std::unique_ptr<Histogram>> histograms;
  };
  absl::StatusOr<Entry*> EntryFor(std::string_view name, std::string_view help, MetricType type,
                                  const MetricLabels& labels);

  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;  // guarded by mu_
  // Collectors run under collect_mu_ (never under mu_), so RemoveCollector can wait
  // for a running one. Lock order: collect_mu_ before mu_.
  mutable std::mutex collect_mu_;
  std::map<int, Collector> collectors_;  // guarded by collect_mu_
  int next_collector_ = 0;               // guarded by collect_mu_
};

// `snapshot` in the Prometheus text exposition format (version 0.0.4), served with
// Content-Type "text/plain; version=0.0.4". Families with the same name are merged.
UNIBUS_EXPORT std::string PrometheusText(const MetricsSnapshot& snapshot);

// The figures of one Publisher, labelled {topic}:
//   unibus_messages_published_total, unibus_publish_failures_total{code}.
// Wrap() returns a Publisher that counts every publish's outcome; it shares the
// wrapped one's connection and keeps its portability checks (what the wrapped one
// refuses with InvalidArgument, the wrapped result refuses too). Thread-safe. The registry must
// outlive it.
class UNIBUS_EXPORT PublisherMetrics {
 public:
  PublisherMetrics(std::shared_ptr<MetricsRegistry> registry, std::string topic);
  [[nodiscard]] Publisher Wrap(const Publisher& p) const;

 private:
  std::shared_ptr<MetricsRegistry> registry_;
  std::string topic_;
};

// The figures of one Subscriber, labelled {subscription}. At every snapshot it reads
// Subscriber::stats(): unibus_messages_delivered_total, _acked_total, _nacked_total,
// _dead_lettered_total (label reason: rejected or max_delivery_attempts) and the
// unibus_messages_outstanding gauge. Messages passed
// through Wrap() also add unibus_messages_redelivered_total (delivery_attempt > 1),
// unibus_handler_seconds (delivery to settlement) and
// unibus_end_to_end_latency_seconds (publish time to ack).
// Thread-safe. Stops reporting when destroyed.
class UNIBUS_EXPORT SubscriberMetrics {
 public:
  SubscriberMetrics(std::shared_ptr<MetricsRegistry> registry, Subscriber subscriber,
                    std::string subscription);
  ~SubscriberMetrics();
  SubscriberMetrics(const SubscriberMetrics&) = delete;
  SubscriberMetrics& operator=(const SubscriberMetrics&) = delete;

  // A handler for Subscribe() that times `handler` and the settlement of each message.
  [[nodiscard]] MessageHandler Wrap(MessageHandler handler) const;
  // Times each message of a Pull() batch from now until it is settled.
  void Wrap(std::vector<PulledMessage>& batch) const;

  struct Figures;  // what wrapped messages record into (defined in the library)

 private:
  std::shared_ptr<MetricsRegistry> registry_;
  std::shared_ptr<Figures> figures_;
  int collector_ = -1;
};

}  // namespace unibus

#endif  // UNIBUS_METRICS_H_
