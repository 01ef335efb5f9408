// Publishing to a Pub/Sub topic: batches, several in flight, ordering keys.
#ifndef UNIBUS_PUBSUB_PUBLISHER_H_
#define UNIBUS_PUBSUB_PUBLISHER_H_

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "pubsub/connection.h"
#include "unibus/options.h"
#include "unibus/publisher.h"

namespace unibus::pubsub_internal {

// Pub/Sub-specific publisher settings (the shared ones are PublisherOptions).
struct PubsubPublisherSettings {
  // Batches in flight at once for messages without an ordering key. Messages with
  // a key always have at most one batch of that key in flight (Pub/Sub requires one
  // key per request, and their order depends on it).
  int max_in_flight_batches = 16;
  // A failed batch is retried (UNAVAILABLE, DEADLINE_EXCEEDED, ...) with backoff
  // until this much time has passed since its first attempt.
  absl::Duration retry_timeout = absl::Seconds(60);
  // Deadline of one Publish RPC.
  absl::Duration rpc_timeout = absl::Seconds(30);
};

// Returns InvalidArgument when Pub/Sub would refuse `m` (too large, no data and no
// attributes, attribute or ordering key over Pub/Sub's limits), naming the limit.
absl::Status ValidateForPubsub(const Message& m, std::size_t max_message_bytes,
                               const std::string& topic);

// A PublisherConnection over the Publish RPC (asynchronous, gRPC callback API).
//
// Batching follows PublisherOptions (Pub/Sub caps a request at 1000 messages and
// 10 MB). Messages without a key go out in up to max_in_flight_batches concurrent
// batches; messages with a key go one batch of that key at a time, in publish order.
//
// Ordering keys pause on failure, as Google's client libraries do: when a batch of
// key K fails (after retries), the messages of K queued behind it fail, and every
// later Publish with key K fails at once with FailedPrecondition, until the key is
// resumed: by ResumePublish(K), or by the next Flush(), which reports the failure
// and resumes every paused key. Other keys are not affected.
//
// Thread-safe. Publish never blocks on the network; it blocks only while
// max_pending_messages are unsent.
class PubsubPublisher : public PublisherConnection {
 public:
  PubsubPublisher(std::shared_ptr<Connection> conn, std::string topic, PublisherOptions options,
                  PubsubPublisherSettings settings = {});
  ~PubsubPublisher() override;

  PublishFuture Publish(Message m) override;
  // Waits for every message published before the call, returns the first error
  // since the previous Flush, and resumes paused ordering keys.
  absl::Status Flush() override;
  void Shutdown() override;

  // Lets `ordering_key` publish again after a failure paused it.
  void ResumePublish(const std::string& ordering_key) override;

 private:
  struct Pending;
  struct Batch;
  struct KeyState;

  using Batches = std::vector<std::shared_ptr<Batch>>;

  void FlushLoop();
  // May `key` send a batch now (in-flight limits)? Requires mu_.
  bool AllowedLocked(const std::string& key, const KeyState& ks) const;
  // Moves the batches of `key` that are due and allowed to `out`, to be sent
  // after mu_ is released. Requires mu_.
  void MaybeSendLocked(const std::string& key, KeyState& ks, bool force, Batches* out);
  void Send(std::shared_ptr<Batch> batch);
  void OnDone(std::shared_ptr<Batch> batch, grpc::Status status);

  const std::shared_ptr<Connection> conn_;
  const std::string topic_;
  const std::string topic_path_;
  const PublisherOptions options_;
  const PubsubPublisherSettings settings_;
  const std::size_t batch_bytes_;
  const std::size_t batch_messages_;
  std::unique_ptr<google::pubsub::v1::Publisher::Stub> stub_;

  std::mutex mu_;
  std::condition_variable work_cv_;                  // the flush thread has something to do
  std::condition_variable space_cv_;                 // Publish may queue again
  std::condition_variable done_cv_;                  // batches completed
  absl::flat_hash_map<std::string, KeyState> keys_;  // guarded by mu_; "" = no key
  absl::flat_hash_set<std::string> queued_keys_;     // guarded by mu_: keys with queued messages
  std::multimap<std::chrono::steady_clock::time_point, std::shared_ptr<Batch>>
      retries_;                  // guarded by mu_
  std::size_t pending_ = 0;      // guarded by mu_: queued, not yet sent
  int in_flight_ = 0;            // guarded by mu_: batches sent or awaiting retry
  int unkeyed_in_flight_ = 0;    // guarded by mu_
  int callbacks_running_ = 0;    // guarded by mu_: OnDone calls not yet finished
  std::uint64_t enqueued_ = 0;   // guarded by mu_
  std::uint64_t completed_ = 0;  // guarded by mu_
  int flushing_ = 0;             // guarded by mu_: Flush calls waiting
  absl::Status first_error_;     // guarded by mu_: since the last Flush
  bool shutdown_ = false;        // guarded by mu_
  std::thread flusher_;
};

}  // namespace unibus::pubsub_internal

#endif  // UNIBUS_PUBSUB_PUBLISHER_H_
