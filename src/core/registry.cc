#include "core/registry.h"

#include <algorithm>
#include <map>
#include <mutex>

namespace unibus::core_internal {
namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, BackendFactory> factories;  // guarded by mu
};

Registry& GetRegistry() {
  static auto* r = new Registry;  // never destroyed: used until process exit
  return *r;
}

}  // namespace

void RegisterBackend(const std::string& scheme, BackendFactory factory) {
  auto& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.factories[scheme] = std::move(factory);
}

std::vector<std::string> RegisteredSchemes() {
  auto& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> out;
  for (const auto& [k, v] : r.factories) out.push_back(k);
  return out;
}

const BackendFactory* FindBackend(const std::string& scheme) {
  auto& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.factories.find(scheme);
  return it == r.factories.end() ? nullptr : &it->second;  // map nodes are stable
}

}  // namespace unibus::core_internal
