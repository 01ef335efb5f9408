// The backend registry: URL scheme -> factory of the backend's transport.
#ifndef UNIBUS_CORE_REGISTRY_H_
#define UNIBUS_CORE_REGISTRY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/transport.h"
#include "core/url.h"
#include "unibus/options.h"

namespace unibus::core_internal {

// Opens the backend's transport for `url`. Broker::Open applies core's policy over
// it (core/policy_broker.h).
using BackendFactory = std::function<absl::StatusOr<std::shared_ptr<Transport>>(
    const Url& url, const BrokerOptions& options)>;

// Registers `factory` for `scheme`. Called once per backend by RegisterBuiltinBackends.
void RegisterBackend(const std::string& scheme, BackendFactory factory);

// The schemes registered, sorted (for error messages).
std::vector<std::string> RegisteredSchemes();

// The factory for `scheme`, or null.
const BackendFactory* FindBackend(const std::string& scheme);

// Registers every backend compiled in (src/core/backends.cc). Idempotent.
void RegisterBuiltinBackends();

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_REGISTRY_H_
