#include "cli/metrics_server.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace unibus::cli {
namespace {

bool IsLoopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return false;
}

}  // namespace

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
    const std::string& h = (*s)->host();
    std::cerr << "unibus: serving /metrics, /healthz, /readyz on http://"
              << (h.find(':') != std::string::npos ? "[" + h + "]" : h) << ":" << (*s)->port()
              << "\n";
  }
  return s;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address, bool allow_remote, std::shared_ptr<MetricsRegistry> registry) {
  const auto colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics '", address, "' is not HOST:PORT (for example 127.0.0.1:9464)"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  if (!allow_remote && !IsLoopback(host)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics ", address,
                     " is not a loopback address; the metrics server has no "
                     "authentication, so serve it on 127.0.0.1 or pass --metrics-allow-remote"));
  }
  std::unique_ptr<MetricsServer> s(new MetricsServer());
  s->registry_ = std::move(registry);
  s->host_ = host;
  s->server_ = std::make_unique<httplib::Server>();
  httplib::Server& svr = *s->server_;
  // httplib's default sets SO_REUSEPORT, which would let a second process share a
  // port in use; SO_REUSEADDR alone still allows a quick restart.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  svr.new_task_queue = [] { return new httplib::ThreadPool(2); };
  MetricsServer* self = s.get();
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
      res.set_content(absl::StrCat("not ready: ", self->ready_.message(), "\n"), "text/plain");
    }
  });
  if (port == 0) {
    port = svr.bind_to_any_port(host);
    if (port < 0) port = -1;
  } else if (!svr.bind_to_port(host, port)) {
    port = -1;
  }
  if (port < 0) {
    return absl::UnavailableError(absl::StrCat(
        "--metrics ", address, ": cannot listen there; port ", address.substr(colon + 1),
        " is already in use (or the address is not on this machine); pick "
        "another port"));
  }
  s->port_ = port;
  s->thread_ = std::thread([self] {
    self->server_->listen_after_bind();
    self->done_ = true;
  });
  return s;
}

MetricsServer::~MetricsServer() {
  if (thread_.joinable()) {
    // stop() is a no-op until the listen loop runs; wait for it to start (or end).
    while (!done_ && !server_->is_running())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server_->stop();
    thread_.join();
  }
}

void MetricsServer::SetReady(absl::Status ready) {
  std::lock_guard<std::mutex> lock(mu_);
  ready_ = std::move(ready);
}

}  // namespace unibus::cli
