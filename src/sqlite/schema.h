// The on-disk layout of a unibus sqlite database, and its version stamp.
#ifndef UNIBUS_SQLITE_SCHEMA_H_
#define UNIBUS_SQLITE_SCHEMA_H_

#include <cstdint>

#include "absl/status/status.h"

namespace unibus::sqlite_internal {

class Db;

// PRAGMA application_id of every unibus database ("UNIB").
inline constexpr std::int32_t kApplicationId = 0x554E4942;
// PRAGMA user_version: the schema this code reads and writes.
inline constexpr int kSchemaVersion = 1;

// A new (empty) file gets the schema; a unibus database of this schema version is
// accepted; anything else is refused with FailedPrecondition saying what the file
// is and what to do. Safe when several processes open a new file at once.
absl::Status EnsureSchema(Db& db);

}  // namespace unibus::sqlite_internal

#endif  // UNIBUS_SQLITE_SCHEMA_H_
