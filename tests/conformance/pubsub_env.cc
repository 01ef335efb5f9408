// The conformance suite on pubsub://, against Google's Pub/Sub emulator started for
// the suite on a free loopback port. Each test gets a project of its own.
#include <atomic>

#include "absl/strings/str_cat.h"
#include "conformance/backend.h"
#include "pubsub/emulator.h"

namespace unibus::conformance {
namespace {

class PubsubEnv : public BackendEnv {
 public:
  std::string name() const override { return "pubsub"; }

  absl::Status Start() override {
    auto e = pubsub_internal::Emulator::Start();
    if (!e.ok()) return e.status();
    emulator_ = *std::move(e);
    return absl::OkStatus();
  }
  void Stop() override { emulator_.reset(); }

  std::string Url() override {
    return emulator_->Url(absl::StrCat("unibus-conformance-", next_++));
  }

  // Pub/Sub gives a subscription only what is published after it exists, unless
  // the topic retains messages; retention makes StartPosition::kEarliest reach
  // messages published before the subscription, as on the other backends.
  absl::Status CreateTopic(Broker& broker, const std::string& topic, int partitions) override {
    return broker.admin().CreateTopic(
        TopicConfig{.name = topic, .partitions = partitions, .retention = absl::Minutes(10)});
  }

  absl::Status Restart() override { return emulator_->Restart(); }

 private:
  std::unique_ptr<pubsub_internal::Emulator> emulator_;
  std::atomic<int> next_{0};
};

}  // namespace

UNIBUS_REGISTER_BACKEND_ENV("pubsub", PubsubEnv);

}  // namespace unibus::conformance
