// Stores publishers' batches: one write transaction per batch.
#ifndef UNIBUS_SQLITE_SINK_H_
#define UNIBUS_SQLITE_SINK_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/batching_publisher.h"
#include "sqlite/db.h"

namespace unibus::sqlite_internal {

// A BatchSink over its own connection. Thread-safe.
class SqliteSink : public core_internal::BatchSink {
 public:
  explicit SqliteSink(std::unique_ptr<Db> db) : db_(std::move(db)) {}

  // Appends `batch` to `topic` in one transaction: all of it or none of it.
  // NotFound when the topic does not exist; the messages' ids are their sequence
  // numbers in the topic. Wakes this process's waiting subscribers.
  absl::StatusOr<std::vector<absl::StatusOr<MessageId>>> PublishBatch(
      const std::string& topic, std::vector<Message>& batch) override;

 private:
  std::mutex mu_;
  std::unique_ptr<Db> db_;  // guarded by mu_
};

}  // namespace unibus::sqlite_internal

#endif  // UNIBUS_SQLITE_SINK_H_
