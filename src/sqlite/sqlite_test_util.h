// Helpers for the sqlite backend's tests: temp files and direct sources/sinks.
#ifndef UNIBUS_SQLITE_SQLITE_TEST_UTIL_H_
#define UNIBUS_SQLITE_SQLITE_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "sqlite/admin.h"
#include "sqlite/db.h"
#include "sqlite/sink.h"
#include "sqlite/source.h"
#include "unibus/unibus.h"

namespace unibus::sqlite_internal {

// A fresh path in the test's temp dir (the file does not exist); removes the file
// and its -wal/-shm when destroyed.
class TempDb {
 public:
  TempDb();
  ~TempDb();
  const std::string& path() const { return path_; }
  std::string url() const { return "sqlite://" + path_; }
  DbConfig config() const;

 private:
  std::string path_;
};

std::unique_ptr<Db> OpenDb(const DbConfig& config);
std::shared_ptr<SqliteAdmin> MakeAdmin(const DbConfig& config);
std::shared_ptr<SqliteSink> MakeSink(const DbConfig& config);
std::shared_ptr<SqliteSource> MakeSource(const DbConfig& config, const std::string& sub,
                                         const std::string& topic,
                                         absl::Duration ack_deadline = absl::Seconds(30));

// Publishes data "<prefix><i>" for i in [from, to) through `sink` in one batch.
void PublishRange(SqliteSink& sink, const std::string& topic, const std::string& prefix, int from,
                  int to);

// Fetches (waiting at most `wait` per call) until `n` deliveries came or a call
// returned none.
std::vector<core_internal::Delivery> FetchN(SqliteSource& source, std::size_t n,
                                            absl::Duration wait = absl::Milliseconds(200));

std::vector<std::string> Tokens(const std::vector<core_internal::Delivery>& ds);
std::vector<std::string> Data(const std::vector<core_internal::Delivery>& ds);

// Runs one SQL statement on the file through a raw connection; returns the first
// column of the first row as an integer (0 if none).
std::int64_t RawQuery(const std::string& path, const std::string& sql);

// Creates, at `path`, an empty unibus file in the layout versions up to 2026-12-02
// wrote (schema version 1, messages WITHOUT ROWID; see schema.cc).
absl::Status WriteEarlierLayout(const std::string& path);

}  // namespace unibus::sqlite_internal

#endif  // UNIBUS_SQLITE_SQLITE_TEST_UTIL_H_
