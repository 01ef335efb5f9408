// unibus feed [--url URL] [--topic images] [--count N] [--rate R] [--data DIR]
#include <iostream>

#include "cli/common.h"
#include "cli/subcommands.h"
#include "cli/vision_glue.h"

namespace unibus::cli {
namespace {

struct FeedCliOptions {
  BrokerFlags broker;
  std::string data = kDefaultDataDir;
  pipeline::FeedOptions feed;
};

int run_feed(const FeedCliOptions& o) {
  auto images = LoadTestImages(o.data);
  if (!images.ok()) return Fail(images.status());
  auto broker = OpenBroker(o.broker);
  if (!broker.ok()) return Fail(broker.status());
  InstallStopHandler();
  pipeline::FeedOptions f = o.feed;
  f.progress = true;
  auto r = pipeline::RunFeed(*broker, *images, f);
  if (!r.ok()) return Fail(r.status());
  std::cout << "fed " << r->published << " images to " << f.topic << " in " << r->seconds << " s ("
            << (r->seconds > 0 ? r->published / r->seconds : 0) << " images/s)\n";
  return 0;
}

}  // namespace

void setup_feed(CLI::App& app) {
  auto opts = std::make_shared<FeedCliOptions>();
  auto* cmd = app.add_subcommand("feed", "publish Fashion-MNIST test images as ImageMessage");
  cmd->add_option("--topic,-t", opts->feed.topic, "images topic");
  cmd->add_option("--count,-n", opts->feed.count, "images to send (default: all 10,000)");
  cmd->add_option("--rate", opts->feed.rate, "images per second (default: as fast as possible)");
  cmd->add_option("--data", opts->data, "directory of the gzip'd IDX files");
  AddBrokerFlags(cmd, &opts->broker);
  cmd->callback([opts] { Exit(run_feed(*opts)); });
}

}  // namespace unibus::cli
