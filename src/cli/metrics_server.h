// --metrics HOST:PORT: serves /metrics (Prometheus text), /healthz and /readyz for a
// long-running subcommand, with cpp-httplib.
#ifndef UNIBUS_CLI_METRICS_SERVER_H_
#define UNIBUS_CLI_METRICS_SERVER_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cli/http_listen.h"
#include "unibus/broker.h"
#include "unibus/metrics.h"

namespace unibus::cli {

struct MetricsFlags {
  std::string address;        // HOST:PORT; empty: no server
  bool allow_remote = false;  // serve on an address other than loopback
};

// Adds --metrics and --metrics-allow-remote to `app`.
void AddMetricsFlags(CLI::App* app, MetricsFlags* flags);

// A figure a stage reads at every scrape (a counter of its own).
struct StageCounter {
  std::string name;  // unibus_classify_images_total
  std::string help;
  std::function<double()> read;
};

// Adds to `registry`, read at every scrape: `counters` labelled {stage}, and the
// backlog of `subscription` (unibus_subscription_backlog{subscription}: messages not
// yet acked, from Admin::DescribeSubscription; absent while the backend cannot tell),
// and on Kafka each partition's lag (unibus_subscription_partition_lag{subscription,
// partition}).
// Returns the collector id.
int AddStageMetrics(MetricsRegistry& registry, Broker broker, std::string stage,
                    std::string subscription, std::vector<StageCounter> counters);

// An HTTP server on its own threads:
//   GET /metrics  the registry's snapshot as Prometheus text (version 0.0.4)
//   GET /healthz  200 "ok" while the process runs
//   GET /readyz   200 "ready" once SetReady(OkStatus()), else 503 with the reason
class MetricsServer {
 public:
  // Listens on `address` ("127.0.0.1:9464", "localhost:0" for any free port,
  // "[::1]:9464"), see HttpListener. InvalidArgument for a malformed address, or one
  // that is not loopback unless `allow_remote`; Unavailable when the port is taken,
  // naming it.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address, bool allow_remote, std::shared_ptr<MetricsRegistry> registry);
  // Starts the server `flags` ask for and says where on stderr, or returns null
  // when they ask for none.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const MetricsFlags& flags, std::shared_ptr<MetricsRegistry> registry);
  ~MetricsServer() = default;  // stops listening and joins

  // What /readyz answers: OK -> 200, else 503 with the status message.
  void SetReady(absl::Status ready);
  int port() const { return listener_->port(); }
  const std::string& host() const { return listener_->host(); }

 private:
  MetricsServer() = default;
  std::shared_ptr<MetricsRegistry> registry_;
  std::mutex mu_;
  absl::Status ready_ = absl::UnavailableError("starting");  // guarded by mu_
  std::unique_ptr<HttpListener> listener_;                   // last: stopped before the rest goes
};

}  // namespace unibus::cli

#endif  // UNIBUS_CLI_METRICS_SERVER_H_
