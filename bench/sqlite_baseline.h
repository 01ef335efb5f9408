// The raw-SQLite baseline `unibus bench` runs beside sqlite://, in the same run:
// the same rows (topic_id, seq, publish time, key, attributes, data) and unibus's
// pragmas (WAL, synchronous=NORMAL, a 256 MB mmap), in the table layout faster for the
// rows' size (WITHOUT ROWID up to 900-byte payloads, else unibus's rowid table; see
// sqlite_baseline.cc), written with a prepared insert in transactions of the
// publisher's batch size, then read in seq order with one ack write (a delete by
// primary key) per row, a batch per transaction.
#ifndef UNIBUS_BENCH_SQLITE_BASELINE_H_
#define UNIBUS_BENCH_SQLITE_BASELINE_H_

#include <string>

#include "absl/status/statusor.h"
#include "bench/baselines.h"
#include "core/url.h"

namespace unibus::bench {

// A scratch database path beside the file `url` (a sqlite:// URL) names, so the
// baseline runs on the same file system. The baseline removes it when done.
std::string SqliteBaselinePath(const core_internal::Url& url);

// Runs the baseline on a new database at `path` (which must not exist) and removes
// it after. Returns publish and consume+ack rates in messages per second.
absl::StatusOr<BaselineResult> RunSqliteBaseline(const std::string& path,
                                                 const BaselineParams& params);

}  // namespace unibus::bench

#endif  // UNIBUS_BENCH_SQLITE_BASELINE_H_
