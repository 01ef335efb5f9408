// The --metrics server: its errors, /healthz and /readyz, and /metrics validated by
// Prometheus' own promtool while counters move as messages flow.
#include "cli/metrics_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "unibus/broker.h"

namespace unibus::cli {
namespace {

std::string Get(int port, const std::string& path, int* status = nullptr) {
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get(path.c_str());
  if (!res) return "<no answer>";
  if (status != nullptr) *status = res->status;
  return res->body;
}

TEST(MetricsServerTest, HealthAndReadiness) {
  auto server = MetricsServer::Start("127.0.0.1:0", false, std::make_shared<MetricsRegistry>());
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  int status = 0;
  EXPECT_EQ(Get(port, "/healthz", &status), "ok\n");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(absl::StrContains(Get(port, "/readyz", &status), "not ready: starting"));
  EXPECT_EQ(status, 503);
  (*server)->SetReady(absl::UnavailableError("waiting for topic 'images'"));
  EXPECT_TRUE(absl::StrContains(Get(port, "/readyz", &status), "waiting for topic 'images'"));
  EXPECT_EQ(status, 503);
  (*server)->SetReady(absl::OkStatus());
  EXPECT_EQ(Get(port, "/readyz", &status), "ready\n");
  EXPECT_EQ(status, 200);
}

TEST(MetricsServerTest, PortInUseIsAClearErrorNamingIt) {
  auto first = MetricsServer::Start("127.0.0.1:0", false, std::make_shared<MetricsRegistry>());
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string port = absl::StrCat((*first)->port());
  auto second =
      MetricsServer::Start("127.0.0.1:" + port, false, std::make_shared<MetricsRegistry>());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(second.status().message(), "port " + port + " is already in use"))
      << second.status();
}

TEST(MetricsServerTest, RefusesNonLoopbackUnlessAllowedAndBadAddresses) {
  auto registry = std::make_shared<MetricsRegistry>();
  for (const char* remote : {"0.0.0.0:0", ":0", "192.0.2.1:9464"}) {
    auto s = MetricsServer::Start(remote, false, registry);
    ASSERT_FALSE(s.ok()) << remote;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(s.status().message(), "--metrics-allow-remote")) << s.status();
  }
  auto allowed = MetricsServer::Start("0.0.0.0:0", true, registry);
  EXPECT_TRUE(allowed.ok()) << allowed.status();
  for (const char* bad : {"9464", "localhost:http", "127.0.0.1:70000", "127.0.0.1:-1"}) {
    auto s = MetricsServer::Start(bad, false, registry);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  auto loopback = MetricsServer::Start("localhost:0", false, registry);
  EXPECT_TRUE(loopback.ok()) << loopback.status();
  auto none = MetricsServer::Start(MetricsFlags{}, registry);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
}

// promtool's verdict on `text`: empty when it passes, else its output.
std::string Promtool(const std::string& text) {
  const auto path =
      std::filesystem::temp_directory_path() / absl::StrCat("unibus-metrics-", getpid(), ".txt");
  std::ofstream(path) << text;
  const std::string cmd = absl::StrCat("promtool check metrics < ", path.string(), " 2>&1");
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (p != nullptr && fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int rc = p == nullptr ? -1 : pclose(p);
  std::filesystem::remove(path);
  return rc == 0 ? "" : absl::StrCat("promtool exit ", rc, ": ", out);
}

TEST(MetricsServerTest, ExpositionPassesPromtoolAndCountersMove) {
  ASSERT_EQ(std::system("command -v promtool >/dev/null"), 0)
      << "promtool not found; scripts/setup.sh installs it (Debian package prometheus)";
  auto broker = Broker::Open("mem://metrics-server-test");
  ASSERT_TRUE(broker.ok());
  ASSERT_TRUE(broker->admin().CreateTopic("images").ok());
  auto registry = std::make_shared<MetricsRegistry>();
  auto server = MetricsServer::Start("127.0.0.1:0", false, registry);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  auto raw = broker->publisher("images");
  ASSERT_TRUE(raw.ok());
  PublisherMetrics pm(registry, "images");
  Publisher pub = pm.Wrap(*raw);
  auto sub = broker->subscriber("classify", {.topic = "images"});
  ASSERT_TRUE(sub.ok());
  SubscriberMetrics sm(registry, *sub, "classify");

  std::string before = Get(port, "/metrics");
  EXPECT_EQ(Promtool(before), "") << before;
  EXPECT_TRUE(absl::StrContains(before, "unibus_messages_acked_total{subscription=\"classify\"} 0"))
      << before;

  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(pub.Publish(MessageBuilder{}.data("x").build()).get().ok());
  int acked = 0;
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (acked < 3 && absl::Now() < end) {
    auto got = sub->Pull(10, absl::Milliseconds(100));
    ASSERT_TRUE(got.ok());
    sm.Wrap(*got);
    for (auto& m : *got) {
      std::move(m.ack).ack();
      ++acked;
    }
  }
  ASSERT_EQ(acked, 3);
  std::string after = Get(port, "/metrics");
  EXPECT_EQ(Promtool(after), "") << after;
  for (const char* line : {"unibus_messages_published_total{topic=\"images\"} 3",
                           "unibus_messages_delivered_total{subscription=\"classify\"} 3",
                           "unibus_messages_acked_total{subscription=\"classify\"} 3",
                           "unibus_messages_outstanding{subscription=\"classify\"} 0",
                           "unibus_end_to_end_latency_seconds_count{subscription=\"classify\"} 3",
                           "# TYPE unibus_handler_seconds histogram"}) {
    EXPECT_TRUE(absl::StrContains(after, line)) << line << "\n" << after;
  }
  // A broken exposition fails promtool, so the check above can fail.
  EXPECT_NE(Promtool("# TYPE x counter\nx{a=\"1\" 1\n"), "");
  sub->Shutdown();
}

}  // namespace
}  // namespace unibus::cli
