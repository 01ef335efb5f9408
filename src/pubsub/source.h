// A Pub/Sub subscription as a core_internal::SubscriptionSource, over StreamingPull.
#ifndef UNIBUS_PUBSUB_SOURCE_H_
#define UNIBUS_PUBSUB_SOURCE_H_

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/source.h"
#include "pubsub/connection.h"
#include "unibus/options.h"

namespace unibus::pubsub_internal {

// Keeps several StreamingPull streams open on its own channel and buffers what
// they deliver for Fetch, in arrival order.
//
// - Streams: one stream is slow on both servers: Pub/Sub caps a stream at about
//   10 MB/s, and the emulator hands a stream at most 100 messages per 50 ms tick
//   (2,000 msg/s at best). So, like Google's clients (Node opens 5 by default),
//   the source opens `streams` of them (StreamCount). Ordering still holds: the
//   server keeps an ordering key on one stream while it has messages of it
//   outstanding, and each stream's messages enter the buffer in order.
//   Streams do not help an ordered subscription on the emulator (0.8.20): it
//   hands out each ordering key's messages (keyless ones share one backlog) 1-3
//   at a time under one lock, and each time, while any is outstanding, copies
//   that backlog's undelivered messages into a new set: draining N messages of
//   one key costs it about N*N/4 set inserts, whatever the client does.
//
// - Flow control: the stream asks the server for at most max_outstanding_messages
//   and bytes (Pub/Sub honours it; the emulator does not), and the reader stops
//   reading while the buffer holds that many, so gRPC's flow control holds the
//   server back. Each stream asks for its share of the limits. Buffered messages ride along with
//   the dispatcher's lease extensions, so they do not expire while they wait.
// - Reconnects each stream with backoff (100 ms doubling to 10 s) when it ends with a
//   retryable status (UNAVAILABLE, a restarted emulator, ...); Fetch reports each
//   failure once as Unavailable so the dispatcher logs it. A permanent failure
//   (the subscription is gone, permission denied) is returned by every later
//   Fetch; after an emulator restart that is NotFound, saying the emulator lost it.
// - Ack = Acknowledge, Release = ModifyAckDeadline 0, ExtendLeases =
//   ModifyAckDeadline (clamped to Pub/Sub's 10-600 s), as unary RPCs in chunks of
//   2500 ids, so a failed ack is reported to the dispatcher and never counted done.
//   Release is the dispatcher's shutdown step, so it closes the streams first: the
//   released messages must not come straight back to this closing subscriber.
// How many streams a source opens: `requested` if > 0, else one per 100
// messages of max_outstanding_messages, between 1 and 16 (so the default 1,000
// opens 10: on the emulator that is up to 20,000 msg/s where Node's 5 streams
// reach 10,000; each stream still asks the server for at least 100 messages).
std::size_t StreamCount(std::size_t requested, std::size_t max_outstanding_messages);

class StreamingPullSource : public core_internal::SubscriptionSource {
 public:
  // `streams`: 0 = StreamCount's default.
  StreamingPullSource(std::shared_ptr<Connection> conn, std::string subscription, std::string topic,
                      const SubscriberOptions& options, std::size_t streams = 0);
  ~StreamingPullSource() override;

  absl::StatusOr<std::vector<core_internal::Delivery>> Fetch(std::size_t max_messages,
                                                             std::size_t max_bytes,
                                                             absl::Duration wait) override;
  absl::Status Ack(const std::vector<std::string>& tokens) override;
  absl::Status Release(const std::vector<std::string>& tokens) override;
  absl::Status ExtendLeases(const std::vector<std::string>& tokens,
                            absl::Duration deadline) override;
  bool needs_lease_extension() const override { return true; }
  void Close() override;

 private:
  struct Buffered {
    core_internal::Delivery delivery;
    std::size_t bytes;
  };

  // One stream's state, guarded by mu_.
  struct Stream {
    grpc::ClientContext* ctx = nullptr;  // while open, to cancel
    grpc::ClientReaderWriter<google::pubsub::v1::StreamingPullRequest,
                             google::pubsub::v1::StreamingPullResponse>* rw =
        nullptr;               // while open and writable, to half-close
    bool half_closed = false;  // WritesDone sent
  };

  void ReadLoop(std::size_t index);
  // Reads stream `index` until it ends; returns how it ended.
  grpc::Status RunStream(std::size_t index, bool* got_messages);
  bool AnyStreamOpenLocked() const;
  // Closes the streams, joins the readers and moves the buffered (never fetched)
  // messages' ack ids to `unfetched`. Idempotent.
  void StopStream(std::vector<std::string>* unfetched);
  absl::Status ModifyDeadline(const std::vector<std::string>& ids, int seconds,
                              absl::string_view what);

  const std::shared_ptr<Connection> conn_;
  const std::string subscription_;
  const std::string subscription_path_;
  const std::string topic_;
  const SubscriberOptions options_;
  const int stream_deadline_seconds_;
  const std::string client_id_;
  std::unique_ptr<google::pubsub::v1::Subscriber::Stub> stub_;

  std::mutex mu_;
  std::condition_variable data_cv_;         // buffer gained messages, or the stream state changed
  std::condition_variable space_cv_;        // buffer has room, or closing
  std::deque<Buffered> buffer_;             // guarded by mu_
  std::size_t buffered_bytes_ = 0;          // guarded by mu_
  absl::Status transient_;                  // guarded by mu_: a stream failure not yet reported
  absl::Status terminal_;                   // guarded by mu_: the stream cannot be reopened
  std::vector<Stream> streams_;             // guarded by mu_; size fixed at construction
  std::condition_variable stream_done_cv_;  // a stream finished
  bool closed_ = false;                     // guarded by mu_
  std::mutex reader_mu_;                    // serializes joining readers_
  std::vector<std::thread> readers_;        // one per stream
};

}  // namespace unibus::pubsub_internal

#endif  // UNIBUS_PUBSUB_SOURCE_H_
