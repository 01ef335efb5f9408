// Where predictions land: a SQL table keyed by image id (SQLite or PostgreSQL).
#ifndef UNIBUS_PIPELINE_STORE_H_
#define UNIBUS_PIPELINE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vision.pb.h"

namespace unibus::pipeline {

struct StoreSummary {
  std::int64_t rows = 0;             // predictions stored (one per image id)
  std::int64_t distinct_images = 0;  // equals rows: the key makes a second row impossible
  std::int64_t labelled = 0;         // rows whose true label is known
  std::int64_t correct = 0;          // labelled rows predicted right
  std::int64_t redeliveries = 0;     // upserts that hit an existing row (a redelivered prediction)
  std::vector<double> latencies_ms;  // produced -> stored, per row, sorted
  // Where that time went, per row, each sorted on its own:
  std::vector<double> queue_ms;      // produced -> picked by a classifier worker
  std::vector<double> inference_ms;  // the model call on the row's batch
  std::vector<double> delivery_ms;   // classified -> stored (predictions hop + sink)
};

// A predictions table. Not thread-safe: one per sink thread.
class PredictionStore {
 public:
  virtual ~PredictionStore() = default;

  // Opens `db`: "sqlite:PATH" (default form; a bare path means sqlite too) or
  // "postgresql://..." / "postgres://...". Creates the table when missing.
  // A database that is neither new, empty, nor a unibus predictions store (see
  // store_check.h) is refused with FailedPrecondition before anything is written:
  // a SQLite file of another application stays byte-for-byte as it was.
  // InvalidArgument for an unknown form, Unavailable when the server does not answer;
  // a SQLite file that cannot be opened has the sqlite backend's codes (for example
  // FailedPrecondition for a directory that does not exist, PermissionDenied).
  static absl::StatusOr<std::unique_ptr<PredictionStore>> Open(const std::string& db);

  // Upserts `batch` in one transaction keyed by image_id: a redelivered prediction
  // updates its row (and counts a redelivery), never adds a second one.
  virtual absl::Status Upsert(const std::vector<vision::Prediction>& batch) = 0;

  // The rows whose image id starts with `image_id_prefix` (one pipeline run's;
  // "" = every row).
  virtual absl::StatusOr<StoreSummary> Summarize(const std::string& image_id_prefix) = 0;

  // Deletes every row (only for `unibus pipeline --fresh`).
  virtual absl::Status Clear() = 0;
};

// What a PostgreSQL SQLSTATE (www.postgresql.org/docs/current/errcodes-appendix.html)
// means as a status code, the same as the SQLite store's for the same trouble:
// Unavailable for a broken connection (or no SQLSTATE at all), PermissionDenied,
// ResourceExhausted (disk full), Aborted (serialization failure, deadlock),
// InvalidArgument (bad data), FailedPrecondition (schema not as expected), Internal.
absl::StatusCode PostgresStatusCode(std::string_view sqlstate);

}  // namespace unibus::pipeline

#endif  // UNIBUS_PIPELINE_STORE_H_
