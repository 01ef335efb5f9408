#include "unibus/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace unibus {
namespace {

bool ValidName(std::string_view name, bool colons) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colons && c == ':');
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

const char* TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return absl::StrCat(static_cast<std::int64_t>(v));
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back as v
  return std::string(buf, r.ptr);
}

void AppendEscaped(std::string* out, std::string_view s, bool quotes) {
  for (char c : s) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (quotes && c == '"') {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

// {a="x",b="y"} with `extra` (le="...") last; empty when there are no labels.
std::string Labels(const MetricLabels& labels, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](std::string_view k, std::string_view v) {
    if (!first) out.push_back(',');
    first = false;
    out.append(k);
    out.append("=\"");
    AppendEscaped(&out, v, true);
    out.push_back('"');
  };
  for (const auto& [k, v] : labels) add(k, v);
  if (!extra_name.empty()) add(extra_name, extra_value);
  out.push_back('}');
  return out;
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) {
  std::sort(upper_bounds.begin(), upper_bounds.end());
  upper_bounds.erase(std::unique(upper_bounds.begin(), upper_bounds.end()), upper_bounds.end());
  data_.bucket_counts.assign(upper_bounds.size() + 1, 0);
  data_.upper_bounds = std::move(upper_bounds);
}

void Histogram::Observe(double v) {
  const auto it = std::lower_bound(data_.upper_bounds.begin(), data_.upper_bounds.end(), v);
  const std::size_t bucket = static_cast<std::size_t>(it - data_.upper_bounds.begin());
  std::lock_guard<std::mutex> lock(mu_);
  ++data_.bucket_counts[bucket];
  data_.sum += v;
  ++data_.count;
}

HistogramData Histogram::data() const {
  std::lock_guard<std::mutex> lock(mu_);
  return data_;
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};
}

absl::StatusOr<MetricsRegistry::Entry*> MetricsRegistry::EntryFor(std::string_view name,
                                                                  std::string_view help,
                                                                  MetricType type,
                                                                  const MetricLabels& labels) {
  const std::string n(name);  // this abseil's StrCat takes no std::string_view
  if (!ValidName(name, /*colons=*/true)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metric name '", n, "' is not a Prometheus name ([a-zA-Z_:][a-zA-Z0-9_:]*)"));
  }
  for (const auto& [k, v] : labels) {
    if (!ValidName(k, /*colons=*/false) || k.rfind("__", 0) == 0 || k == "le") {
      return absl::InvalidArgumentError(absl::StrCat(
          "label name '", k, "' of metric '", n,
          "' is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not __*, not le)"));
    }
  }
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    it = entries_.emplace(std::string(name), Entry{type, std::string(help), {}, {}, {}}).first;
  } else if (it->second.type != type) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metric '", n, "' is a ", TypeName(it->second.type), ", not a ", TypeName(type)));
  }
  return &it->second;
}

absl::StatusOr<Counter*> MetricsRegistry::counter(std::string_view name, std::string_view help,
                                                  const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto e = EntryFor(name, help, MetricType::kCounter, labels);
  if (!e.ok()) return e.status();
  auto& slot = (*e)->counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return slot.get();
}

absl::StatusOr<Gauge*> MetricsRegistry::gauge(std::string_view name, std::string_view help,
                                              const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto e = EntryFor(name, help, MetricType::kGauge, labels);
  if (!e.ok()) return e.status();
  auto& slot = (*e)->gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return slot.get();
}

absl::StatusOr<Histogram*> MetricsRegistry::histogram(std::string_view name, std::string_view help,
                                                      const MetricLabels& labels,
                                                      std::vector<double> upper_bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  auto e = EntryFor(name, help, MetricType::kHistogram, labels);
  if (!e.ok()) return e.status();
  auto& slot = (*e)->histograms[labels];
  if (!slot) {
    slot = std::make_unique<Histogram>(upper_bounds.empty() ? LatencyBuckets()
                                                            : std::move(upper_bounds));
  }
  return slot.get();
}

int MetricsRegistry::AddCollector(Collector c) {
  std::lock_guard<std::mutex> lock(collect_mu_);
  const int id = next_collector_++;
  collectors_.emplace(id, std::move(c));
  return id;
}

void MetricsRegistry::RemoveCollector(int id) {
  std::lock_guard<std::mutex> lock(collect_mu_);
  collectors_.erase(id);
}

MetricsSnapshot MetricsRegistry::Snapshot() const {
  std::map<std::string, MetricFamily> families;
  {
    std::lock_guard<std::mutex> lock(collect_mu_);
    MetricsSnapshot collected;
    for (const auto& [id, c] : collectors_) c(collected);
    for (auto& f : collected) {
      auto [it, inserted] = families.try_emplace(f.name, f);
      if (!inserted) {
        for (auto& p : f.points) it->second.points.push_back(std::move(p));
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, e] : entries_) {
    MetricFamily& f = families[name];
    f.name = name;
    f.help = e.help;
    f.type = e.type;
    for (const auto& [labels, c] : e.counters) f.points.push_back({labels, c->value(), {}});
    for (const auto& [labels, g] : e.gauges) f.points.push_back({labels, g->value(), {}});
    for (const auto& [labels, h] : e.histograms) f.points.push_back({labels, 0, h->data()});
  }
  MetricsSnapshot out;
  out.reserve(families.size());
  for (auto& [name, f] : families) out.push_back(std::move(f));
  return out;
}

std::string PrometheusText(const MetricsSnapshot& snapshot) {
  std::map<std::string, const MetricFamily*> first;  // merge duplicates into the first
  std::map<std::string, std::vector<const MetricPoint*>> points;
  for (const auto& f : snapshot) {
    first.try_emplace(f.name, &f);
    for (const auto& p : f.points) points[f.name].push_back(&p);
  }
  std::string out;
  for (const auto& [name, f] : first) {
    absl::StrAppend(&out, "# HELP ", name, " ");
    AppendEscaped(&out, f->help, false);
    absl::StrAppend(&out, "\n# TYPE ", name, " ", TypeName(f->type), "\n");
    for (const MetricPoint* p : points[name]) {
      if (f->type != MetricType::kHistogram) {
        absl::StrAppend(&out, name, Labels(p->labels), " ", FormatValue(p->value), "\n");
        continue;
      }
      const HistogramData& h = p->histogram;
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < h.upper_bounds.size(); ++i) {
        cumulative += i < h.bucket_counts.size() ? h.bucket_counts[i] : 0;
        absl::StrAppend(&out, name, "_bucket",
                        Labels(p->labels, "le", FormatValue(h.upper_bounds[i])), " ", cumulative,
                        "\n");
      }
      absl::StrAppend(&out, name, "_bucket", Labels(p->labels, "le", "+Inf"), " ", h.count, "\n");
      absl::StrAppend(&out, name, "_sum", Labels(p->labels), " ", FormatValue(h.sum), "\n");
      absl::StrAppend(&out, name, "_count", Labels(p->labels), " ", h.count, "\n");
    }
  }
  return out;
}

}  // namespace unibus
