#include "cli/metrics_server.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace unibus::cli {
void AddMetricsFlags(CLI::App* app, MetricsFlags* flags) {
  app->add_option("--metrics", flags->address,
                  "serve /metrics (Prometheus), /healthz and /readyz on HOST:PORT, e.g. "
                  "127.0.0.1:9464");
  app->add_flag("--metrics-allow-remote", flags->allow_remote,
                "allow --metrics on an address other than loopback (it has no authentication)");
}

int AddStageMetrics(MetricsRegistry& registry, Broker broker, std::string stage,
                    std::string subscription, std::vector<StageCounter> counters) {
  return registry.AddCollector([broker, stage = std::move(stage),
                                subscription = std::move(subscription),
                                counters = std::move(counters)](MetricsSnapshot& out) mutable {
    for (const auto& c : counters)
      out.push_back({c.name, c.help, MetricType::kCounter, {{{{"stage", stage}}, c.read(), {}}}});
    auto info = broker.admin().DescribeSubscription(subscription);
    if (info.ok() && info->backlog >= 0) {
      out.push_back({"unibus_subscription_backlog",
                     "Messages of the subscription not yet acked (consumer lag).",
                     MetricType::kGauge,
                     {{{{"subscription", subscription}}, static_cast<double>(info->backlog), {}}}});
    }
    if (info.ok() && !info->partitions.empty()) {
      MetricFamily lag{"unibus_subscription_partition_lag",
                       "Kafka: messages of a partition past the group's committed offset.",
                       MetricType::kGauge,
                       {}};
      for (const auto& p : info->partitions) {
        if (p.lag < 0) continue;
        lag.points.push_back(
            {{{"subscription", subscription}, {"partition", std::to_string(p.partition)}},
             static_cast<double>(p.lag),
             {}});
      }
      if (!lag.points.empty()) out.push_back(std::move(lag));
    }
  });
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const MetricsFlags& flags, std::shared_ptr<MetricsRegistry> registry) {
  if (flags.address.empty()) return std::unique_ptr<MetricsServer>();
  auto s = Start(flags.address, flags.allow_remote, std::move(registry));
  if (s.ok()) {
    std::cerr << "unibus: serving /metrics, /healthz, /readyz on " << (*s)->listener_->Url()
              << "\n";
  }
  return s;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address, bool allow_remote, std::shared_ptr<MetricsRegistry> registry) {
  std::unique_ptr<MetricsServer> s(new MetricsServer());
  s->registry_ = std::move(registry);
  MetricsServer* self = s.get();
  auto listener =
      HttpListener::Start("--metrics", address, allow_remote, [self](httplib::Server& svr) {
        svr.Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
          res.set_content(PrometheusText(self->registry_->Snapshot()), "text/plain; version=0.0.4");
        });
        svr.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
          res.set_content("ok\n", "text/plain");
        });
        svr.Get("/readyz", [self](const httplib::Request&, httplib::Response& res) {
          std::lock_guard<std::mutex> lock(self->mu_);
          if (self->ready_.ok()) {
            res.set_content("ready\n", "text/plain");
          } else {
            res.status = 503;
            res.set_content(absl::StrCat("not ready: ", self->ready_.message(), "\n"),
                            "text/plain");
          }
        });
      });
  if (!listener.ok()) return listener.status();
  s->listener_ = std::move(*listener);
  return s;
}

void MetricsServer::SetReady(absl::Status ready) {
  std::lock_guard<std::mutex> lock(mu_);
  ready_ = std::move(ready);
}

}  // namespace unibus::cli
