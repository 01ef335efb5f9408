// unibus feed [--url URL] [--topic images] [--count N] [--first I] [--rate R] [--data DIR]
//             [--wait-for-topics]
// Runs until every image is published or SIGTERM/SIGINT: then it stops sending, waits
// for what it sent and says where a restart continues (--first).
#include <atomic>
#include <iostream>
#include <thread>

#include "absl/time/clock.h"
#include "cli/common.h"
#include "cli/subcommands.h"
#include "cli/vision_glue.h"
#include "spdlog/logger.h"

namespace unibus::cli {
namespace {

struct FeedCliOptions {
  BrokerFlags broker;
  std::string data = kDefaultDataDir;
  bool wait_for_topics = false;
  pipeline::FeedOptions feed;
};

int run_feed(const FeedCliOptions& o) {
  InstallStopHandler();
  auto images = LoadTestImages(o.data);
  if (!images.ok()) return Fail(images.status());
  auto broker = OpenBroker(o.broker);
  if (!broker.ok()) return Fail(broker.status());
  pipeline::FeedOptions f = o.feed;
  if (auto s = EnsureTopic(*broker, f.topic, o.wait_for_topics,
                           [](const std::string& line) { Logger()->warn("feed: {}", line); });
      !s.ok()) {
    if (absl::IsCancelled(s)) {
      std::cerr << "feed: " << s.message() << "; nothing sent\n";
      return 0;
    }
    return Fail(s);
  }
  f.progress = true;
  std::atomic<bool> stop{false}, done{false};
  std::thread watcher([&] {
    while (!done && !StopRequested()) absl::SleepFor(absl::Milliseconds(20));
    stop = true;
  });
  auto r = pipeline::RunFeed(*broker, *images, f, &stop);
  done = true;
  watcher.join();
  if (!r.ok()) return Fail(r.status());
  std::cout << "fed " << r->published << " images to " << f.topic << " in " << r->seconds << " s ("
            << (r->seconds > 0 ? r->published / r->seconds : 0) << " images/s)\n";
  const std::size_t next = f.first + r->published;
  const std::size_t total = f.count == 0 ? images->size() : f.count;
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
  cmd->add_option("--count,-n", opts->feed.count, "images to send (default: all 10,000)");
  cmd->add_option("--first", opts->feed.first,
                  "index of the first image to send (a stopped feed says where to continue)");
  cmd->add_option("--rate", opts->feed.rate, "images per second (default: as fast as possible)");
  cmd->add_option("--data", opts->data, "directory of the gzip'd IDX files");
  AddBrokerFlags(cmd, &opts->broker);
  AddWaitForTopicsFlag(cmd, &opts->wait_for_topics);
  cmd->callback([opts] { Exit(run_feed(*opts)); });
}

}  // namespace unibus::cli
