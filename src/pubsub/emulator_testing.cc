#include "pubsub/emulator_testing.h"

#include <atomic>

#include "absl/strings/str_cat.h"

namespace unibus::pubsub_internal {
namespace {

struct Shared {
  std::unique_ptr<Emulator> emulator;
  absl::Status status;
};

Shared* started = nullptr;  // set on first use

Shared& Get() {
  if (started == nullptr) {
    started = new Shared;
    auto e = Emulator::Start();
    if (e.ok())
      started->emulator = *std::move(e);
    else
      started->status = e.status();
  }
  return *started;
}

class StopAtExit : public ::testing::Environment {
 public:
  void TearDown() override {
    if (started != nullptr) started->emulator.reset();
  }
};
const auto* const kStop = ::testing::AddGlobalTestEnvironment(new StopAtExit);

}  // namespace

Emulator* SharedEmulator(absl::Status* why) {
  Shared& s = Get();
  *why = s.status;
  return s.emulator.get();
}

std::string FreshProject() {
  static std::atomic<int> n{0};
  return absl::StrCat("unibus-test-", ++n);
}

}  // namespace unibus::pubsub_internal
