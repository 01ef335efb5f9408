// librdkafka's mock Kafka cluster, for tests, the benchmark and `unibus kafka-mock`:
// a real Kafka-protocol server on 127.0.0.1 (kcat and other clients can talk to
// it). It lacks CreateTopics/DeleteTopics/configs/SASL: make topics here, or let
// producers auto-create them.
#ifndef UNIBUS_KAFKA_MOCK_CLUSTER_H_
#define UNIBUS_KAFKA_MOCK_CLUSTER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace unibus::kafka_internal {

// A running mock cluster; stops when destroyed. Thread-safe.
class MockCluster {
 public:
  // Kafka API keys, for PushRequestErrors.
  static constexpr std::int16_t kProduce = 0, kFetch = 1, kListOffsets = 2, kMetadata = 3,
                                kOffsetCommit = 8, kOffsetFetch = 9, kFindCoordinator = 10,
                                kJoinGroup = 11, kHeartbeat = 12, kSyncGroup = 14,
                                kInitProducerId = 22;

  // Starts `brokers` brokers (ids 1..brokers) on ephemeral loopback ports.
  static absl::StatusOr<std::unique_ptr<MockCluster>> Start(int brokers = 3);
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  // "127.0.0.1:PORT,127.0.0.1:PORT,...".
  std::string bootstrap() const;
  // "kafka://" + bootstrap().
  std::string url() const;
  int brokers() const { return brokers_; }

  // Creates `topic` with `partitions`, replicated min(3, brokers) times.
  // AlreadyExists if it exists.
  absl::Status CreateTopic(const std::string& topic, int partitions);
  // Makes broker `id` (1-based) stop answering / answer again.
  absl::Status SetBrokerDown(int id);
  absl::Status SetBrokerUp(int id);
  // The next requests of `api_key` (to any broker) fail with these librdkafka
  // error codes (rd_kafka_resp_err_t values), one per request.
  absl::Status PushRequestErrors(std::int16_t api_key, const std::vector<int>& errors);
  // The next requests of `api_key` to broker `id` fail with these errors, one per
  // request, each answered `delay` late (responses on a connection keep their order,
  // so the requests sent behind a delayed one are answered after it).
  struct DelayedError {
    int error;  // an rd_kafka_resp_err_t value
    int delay_ms;
  };
  absl::Status PushBrokerRequestErrors(int id, std::int16_t api_key,
                                       const std::vector<DelayedError>& errors);

 private:
  struct Impl;
  explicit MockCluster(std::unique_ptr<Impl> impl, int brokers);
  std::unique_ptr<Impl> impl_;
  int brokers_;
};

}  // namespace unibus::kafka_internal

#endif  // UNIBUS_KAFKA_MOCK_CLUSTER_H_
