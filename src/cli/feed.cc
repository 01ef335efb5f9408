// unibus feed [--url URL] [--topic images] [--count N] [--first I] [--rate R] [--data DIR]
//             [--wait-for-topics] [--metrics HOST:PORT]
// Runs until every image is published or SIGTERM/SIGINT: then it stops sending, waits
// for what it sent and says where a restart continues (--first).
#include <atomic>
#include <iostream>
#include <thread>

#include "absl/time/clock.h"
#include "cli/common.h"
#include "cli/metrics_server.h"
#include "cli/progress.h"
#include "cli/subcommands.h"
#include "pipeline/stages.h"
#include "spdlog/logger.h"
#include "vision/idx.h"
#include "vision/pipeline_model.h"

namespace unibus::cli {
namespace {

struct FeedCliOptions {
  BrokerFlags broker;
  std::string data = vision::kDefaultFashionMnistDir;
  bool wait_for_topics = false;
  pipeline::FeedOptions feed;
  MetricsFlags metrics;
  bool quiet = false;
};

int run_feed(const FeedCliOptions& o) {
  InstallStopHandler();
  auto registry = std::make_shared<MetricsRegistry>();
  auto server = MetricsServer::Start(o.metrics, registry);
  if (!server.ok()) return Fail(server.status());
  auto images = vision::LoadTestImages(o.data);
  if (!images.ok()) return Fail(images.status());
  auto broker = OpenBroker(o.broker);
  if (!broker.ok()) return Fail(broker.status());
  pipeline::FeedOptions f = o.feed;
  f.metrics = registry;
  if (*server) (*server)->SetReady(absl::UnavailableError("waiting for the images topic"));
  // Without --wait-for-topics the publisher creates its topic where the backend can
  // (or, like librdkafka's mock cluster, on the first produce).
  if (auto s = !o.wait_for_topics
                   ? absl::OkStatus()
                   : EnsureTopic(*broker, f.topic, /*wait_only=*/true,
                                 [](const std::string& line) { Logger()->warn("feed: {}", line); });
      !s.ok()) {
    if (absl::IsCancelled(s)) {
      std::cerr << "feed: " << s.message() << "; nothing sent\n";
      return 0;
    }
    return Fail(s);
  }
  if (*server) (*server)->SetReady(absl::OkStatus());
  const std::size_t total = f.count == 0 ? images->size() : f.count;
  std::cerr << "feed: sending images " << f.first << ".." << total << " to " << f.topic << " on "
            << broker->url() << "\n";
  Progress progress("images sent", total > f.first ? total - f.first : 0,
                    o.quiet ? Progress::Mode::kQuiet : Progress::Mode::kAuto);
  f.on_progress = [&](std::size_t sent) { progress.Update(sent); };
  std::atomic<bool> stop{false}, done{false};
  std::thread watcher([&] {
    while (!done && !StopRequested()) absl::SleepFor(absl::Milliseconds(20));
    stop = true;
  });
  auto r = pipeline::RunFeed(*broker, *images, f, &stop);
  done = true;
  watcher.join();
  if (!r.ok()) return Fail(r.status());
  progress.Finish(r->published);
  std::cout << "fed " << r->published << " images to " << f.topic << " in " << r->seconds << " s ("
            << (r->seconds > 0 ? r->published / r->seconds : 0) << " images/s)\n";
  const std::size_t next = f.first + r->published;
  if (next < total) {
    std::cout << "stopped before image " << next << " of " << total << "; continue with --first "
              << next << "\n";
  }
  return 0;
}

}  // namespace

void setup_feed(CLI::App& app) {
  auto opts = std::make_shared<FeedCliOptions>();
  auto* cmd = app.add_subcommand("feed", "publish Fashion-MNIST test images as ImageMessage");
  cmd->add_option("--topic,-t", opts->feed.topic, "images topic");
  cmd->add_option("--count,-n", opts->feed.count,
                  "images in the run: indexes 0..N-1 (default: all 10,000)")
      ->check(NonNegative());
  cmd->add_option("--first", opts->feed.first,
                  "resume the run at this index, with the same --count (a stopped feed says "
                  "where to continue)")
      ->check(NonNegative());
  cmd->add_option("--rate", opts->feed.rate, "images per second (default: as fast as possible)");
  cmd->add_option("--data", opts->data, "directory of the gzip'd IDX files");
  cmd->add_flag("--quiet,-q", opts->quiet,
                "no progress (a bar on a terminal, else a line every 5 s)");
  AddBrokerFlags(cmd, &opts->broker);
  AddMetricsFlags(cmd, &opts->metrics);
  AddWaitForTopicsFlag(cmd, &opts->wait_for_topics);
  cmd->callback([opts] { Exit(run_feed(*opts)); });
}

}  // namespace unibus::cli
