// Whose database is it? Decided before a predictions store writes anything, so a
// database that belongs to another application is refused and left as it was.
#ifndef UNIBUS_PIPELINE_STORE_CHECK_H_
#define UNIBUS_PIPELINE_STORE_CHECK_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

typedef struct pg_conn PGconn;

namespace unibus::pipeline {

// The columns of the predictions table, in creation order.
inline constexpr const char* kPredictionColumns[] = {
    "image_id",      "class_index", "class_name",     "confidence",
    "model_version", "true_label",  "produced_at_us", "classified_at_us",
    "stored_at_us",  "queue_ms",    "inference_ms",   "deliveries"};

// OK when the SQLite file at `path` may hold unibus predictions: it does not exist,
// is empty (0 bytes, or a database with no schema objects), is a unibus broker
// database, or holds nothing but a `predictions` table with kPredictionColumns (and
// its indexes). Reads the file through a read-only connection: never changes it.
// FailedPrecondition, on one line naming the file and what is in it, otherwise.
absl::Status CheckSqliteOwnership(const std::string& path);

// The same rule for the current schema of a PostgreSQL connection: no tables, or
// only a `predictions` table with kPredictionColumns. Runs only SELECTs.
// `what` names the database in errors (its URL, password removed).
absl::Status CheckPostgresOwnership(PGconn* conn, const std::string& what);

// True when `columns` are kPredictionColumns in any order.
bool IsPredictionsTable(std::vector<std::string> columns);

}  // namespace unibus::pipeline

#endif  // UNIBUS_PIPELINE_STORE_CHECK_H_
