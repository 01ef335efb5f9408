// sqlite://PATH: the transport over one SQLite file.
#ifndef UNIBUS_SQLITE_SQLITE_BROKER_H_
#define UNIBUS_SQLITE_SQLITE_BROKER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "core/transport.h"
#include "core/url.h"
#include "sqlite/db.h"
#include "unibus/options.h"

namespace unibus::sqlite_internal {

// Reads the file path and the options from `url` (query parameters, with
// `options.properties` over them):
//   busy_timeout_ms      how long to wait for another process's lock (default 5000)
//   synchronous          normal (default) or full (fsync at every commit)
//   retention_check_ms   how often retention runs (default 10000)
// InvalidArgument for a missing path, ":memory:", or an unknown or bad parameter.
absl::StatusOr<DbConfig> ParseConfig(const core_internal::Url& url, const BrokerOptions& options);

// Opens (creating if needed) the database `config` names.
absl::StatusOr<std::shared_ptr<core_internal::Transport>> OpenSqliteTransport(
    const DbConfig& config, const BrokerOptions& options);

// Registers the "sqlite" scheme (called by core/backends.cc).
void RegisterSqliteBackend();

}  // namespace unibus::sqlite_internal

#endif  // UNIBUS_SQLITE_SQLITE_BROKER_H_
