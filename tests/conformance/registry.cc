#include "conformance/backend.h"

namespace unibus::conformance {

std::vector<std::pair<std::string, BackendEnvFactory>>& BackendEnvs() {
  static auto* envs = new std::vector<std::pair<std::string, BackendEnvFactory>>;
  return *envs;
}

}  // namespace unibus::conformance
