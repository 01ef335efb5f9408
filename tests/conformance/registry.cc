#include <gtest/gtest.h>

#include <map>

#include "conformance/backend.h"

namespace unibus::conformance {
namespace {

// Started envs, shared by all tests of a backend; stopped at exit.
struct EnvSlot {
  std::unique_ptr<BackendEnv> env;
  absl::Status started;
};

std::map<std::string, EnvSlot>& Slots() {
  static auto* slots = new std::map<std::string, EnvSlot>;
  return *slots;
}

class StopEnvs : public ::testing::Environment {
 public:
  void TearDown() override {
    for (auto& [name, slot] : Slots()) {
      if (slot.started.ok()) slot.env->Stop();
    }
  }
};
const auto* const kStopEnvs = ::testing::AddGlobalTestEnvironment(new StopEnvs);

}  // namespace

std::vector<std::pair<std::string, BackendEnvFactory>>& BackendEnvs() {
  static auto* envs = new std::vector<std::pair<std::string, BackendEnvFactory>>;
  return *envs;
}

BackendEnv* GetEnv(const std::string& name, absl::Status* status) {
  auto& slots = Slots();
  auto it = slots.find(name);
  if (it == slots.end()) {
    for (auto& [n, factory] : BackendEnvs()) {
      if (n != name) continue;
      EnvSlot slot{factory(), absl::OkStatus()};
      slot.started = slot.env->Start();
      it = slots.emplace(name, std::move(slot)).first;
    }
  }
  *status = it->second.started;
  return it->second.env.get();
}

std::vector<std::string> EnvNames() {
  std::vector<std::string> names;
  for (auto& [n, f] : BackendEnvs()) names.push_back(n);
  return names;
}

}  // namespace unibus::conformance
