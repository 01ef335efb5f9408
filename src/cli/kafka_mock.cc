// unibus kafka-mock [--brokers N] [--topic NAME:PARTITIONS ...] [--port P]
// Runs librdkafka's mock Kafka cluster in the foreground: a real Kafka-protocol
// peer on 127.0.0.1 for people without a Kafka broker. Prints the bootstrap
// address, runs until SIGINT/SIGTERM.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/common.h"
#include "cli/subcommands.h"
#include "kafka/mock_cluster.h"

namespace unibus::cli {
namespace {

struct KafkaMockOptions {
  int brokers = 1;
  std::vector<std::string> topics;  // NAME:PARTITIONS
  int port = 0;                     // 0: only the mock's own ephemeral ports
};

// Relays connections from 127.0.0.1:port to `target` (host:port). The mock picks
// its own ports; this gives it a fixed bootstrap address. Clients then talk to the
// brokers at the addresses the cluster's metadata advertises.
class Forwarder {
 public:
  absl::Status Start(int port, const std::string& target) {
    std::vector<std::string> hp = absl::StrSplit(target, ':');
    int target_port = 0;
    if (hp.size() != 2 || !absl::SimpleAtoi(hp[1], &target_port)) {
      return absl::InternalError(absl::StrCat("unexpected mock broker address '", target, "'"));
    }
    target_ = sockaddr_in{};
    target_.sin_family = AF_INET;
    target_.sin_port = htons(static_cast<std::uint16_t>(target_port));
    inet_pton(AF_INET, hp[0].c_str(), &target_.sin_addr);
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(listen_fd_, 64) != 0) {
      close(listen_fd_);
      return absl::UnavailableError(absl::StrCat("cannot listen on 127.0.0.1:", port, ": ",
                                                 std::strerror(errno), "; pick another --port"));
    }
    thread_ = std::thread([this] { Accept(); });
    return absl::OkStatus();
  }

  ~Forwarder() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (auto& t : relays_) t.join();
    if (listen_fd_ >= 0) close(listen_fd_);
  }

 private:
  void Accept() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      int client = accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;
      int upstream = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(upstream, reinterpret_cast<const sockaddr*>(&target_), sizeof(target_)) != 0) {
        close(client);
        close(upstream);
        continue;
      }
      relays_.emplace_back([this, client, upstream] { Relay(client, upstream); });
    }
  }

  void Relay(int a, int b) {
    char buf[65536];
    pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    while (!stop_) {
      if (poll(fds, 2, 200) <= 0) continue;
      bool done = false;
      for (int i = 0; i < 2 && !done; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = read(fds[i].fd, buf, sizeof(buf));
        if (n <= 0) {
          done = true;
          break;
        }
        for (ssize_t off = 0; off < n;) {
          ssize_t w = write(fds[1 - i].fd, buf + off, static_cast<size_t>(n - off));
          if (w <= 0) {
            done = true;
            break;
          }
          off += w;
        }
      }
      if (done) break;
    }
    close(a);
    close(b);
  }

  int listen_fd_ = -1;
  sockaddr_in target_{};
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> relays_;  // only touched by the accept thread, then the destructor
};

int run_kafka_mock(const KafkaMockOptions& o) {
  auto cluster = kafka_internal::MockCluster::Start(o.brokers);
  if (!cluster.ok()) return Fail(cluster.status());
  for (const auto& spec : o.topics) {
    std::vector<std::string> parts = absl::StrSplit(spec, ':');
    int partitions = 1;
    if (parts.empty() || parts[0].empty() || parts.size() > 2 ||
        (parts.size() == 2 && (!absl::SimpleAtoi(parts[1], &partitions) || partitions < 1))) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("--topic '", spec, "': expected NAME or NAME:PARTITIONS, e.g. images:4")));
    }
    if (auto s = (*cluster)->CreateTopic(parts[0], partitions); !s.ok()) return Fail(s);
  }
  std::string bootstrap = (*cluster)->bootstrap();
  Forwarder forwarder;
  if (o.port > 0) {
    if (auto s = forwarder.Start(o.port, bootstrap.substr(0, bootstrap.find(','))); !s.ok()) {
      return Fail(s);
    }
    bootstrap = absl::StrCat("127.0.0.1:", o.port);
  }
  InstallStopHandler();
  std::cout
      << "kafka mock cluster: " << o.brokers << " broker(s), bootstrap " << bootstrap << "\n"
      << "  url: kafka://" << bootstrap << "?session.timeout.ms=6000\n"
      << "  (the mock makes a consumer group wait session.timeout.ms before a member rejoins;\n"
      << "   librdkafka's default is 45s, so keep it short in the URL)\n"
      << "  topics are auto-created on first produce; Ctrl-C stops it (all data is lost)\n"
      << std::flush;
  while (!StopRequested()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::cout << "kafka mock cluster stopped\n";
  return 0;
}

}  // namespace

void setup_kafka_mock(CLI::App& app) {
  auto opts = std::make_shared<KafkaMockOptions>();
  auto* cmd =
      app.add_subcommand("kafka-mock", "run librdkafka's mock Kafka cluster in the foreground");
  cmd->add_option("--brokers", opts->brokers, "number of brokers")->check(CLI::Range(1, 16));
  cmd->add_option("--topic", opts->topics, "topic to create, NAME:PARTITIONS (repeatable)");
  cmd->add_option("--port", opts->port,
                  "also accept bootstrap connections on this fixed loopback port")
      ->check(CLI::Range(1, 65535));
  cmd->callback([opts] { Exit(run_kafka_mock(*opts)); });
}

}  // namespace unibus::cli
