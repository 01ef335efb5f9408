// What a kafka:// consumer (kafka/source.cc) does with its group besides polling:
// the commit lists it sends, the committed offsets it starts from, and leaving the
// group and destroying the client in bounded time.
#ifndef UNIBUS_KAFKA_CONSUMER_GROUP_H_
#define UNIBUS_KAFKA_CONSUMER_GROUP_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "kafka/assignment_ledger.h"
#include "kafka/common.h"

namespace spdlog {
class logger;
}

namespace unibus::kafka_internal {

// The consumer's default queued.min.messages (see MakeConsumer); a URL or
// BrokerOptions property of that name overrides it.
inline constexpr char kQueuedMinMessages[] = "1000000";

// A consumer in group `subscription` (not yet subscribed) whose offsets move only by
// the caller's commits; a new group starts at `start`. `opaque` becomes its
// rd_kafka_opaque; the callbacks are librdkafka's rebalance and offset-commit ones.
absl::StatusOr<RdKafkaPtr> MakeConsumer(
    const ClientConfig& config, const std::string& subscription, StartPosition start,
    ClientOpaque* opaque,
    void (*on_rebalance)(rd_kafka_t*, rd_kafka_resp_err_t, rd_kafka_topic_partition_list_t*, void*),
    void (*on_committed)(rd_kafka_t*, rd_kafka_resp_err_t, rd_kafka_topic_partition_list_t*,
                         void*));

// Answers a rebalance callback: takes (`assign`) or gives back `partitions`,
// incrementally under the cooperative protocol, the whole assignment under the
// eager one. A refusal is logged on `logger` (may be null), naming `subscription`.
void AnswerRebalance(rd_kafka_t* rk, bool assign, rd_kafka_topic_partition_list_t* partitions,
                     const std::string& subscription, spdlog::logger* logger);

// Pauses (or resumes) every assigned partition; a failure is logged.
void PauseAssignment(rd_kafka_t* rk, bool pause, const std::string& subscription,
                     spdlog::logger* logger);
// The same for `partitions` (not changed: librdkafka writes each one's result into a
// copy). An application's pause outlives a partition's revoke: when the partition is
// assigned again it is still paused (librdkafka#1849), so a consumer that pauses sets
// the state of each partition it is assigned.
void PausePartitions(rd_kafka_t* rk, const rd_kafka_topic_partition_list_t* partitions, bool pause,
                     const std::string& subscription, spdlog::logger* logger);

// Commits `list` (sync: waits for the broker). Returns true when every partition was
// committed (sync) or the commit was sent (async); a failure is logged.
bool SendCommit(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* list, bool sync,
                const std::string& subscription, spdlog::logger* logger);

// What a consume error in `m` means: NotFound for a topic that does not exist,
// the translated error for fatal, authentication and authorisation errors; OK (after
// a log line) for transport and leadership errors, which librdkafka recovers from.
absl::Status ConsumeErrorStatus(const rd_kafka_message_t* m, const std::string& topic,
                                const std::string& subscription, const ClientConfig& config,
                                spdlog::logger* logger);

// `commits` of `topic` as a librdkafka list (metadata copied; the list owns it).
PartitionListPtr CommitListOf(const std::string& topic,
                              const std::vector<AssignmentLedger::Commit>& commits);

// The group's committed offset of each partition in `partitions` (-1 when none or
// unknown) and the acks recorded above it. Blocks up to `timeout`. When the group
// cannot be asked, every offset is -1 and *error says why.
struct CommittedPosition {
  std::int64_t offset = -1;
  std::set<std::int64_t> acked;
};
std::vector<CommittedPosition> ReadCommitted(rd_kafka_t* rk,
                                             const rd_kafka_topic_partition_list_t* partitions,
                                             absl::Duration timeout, std::string* error);

// Leaving the group, for a consumer whose rebalance callback serves its own
// bookkeeping (librdkafka calls it from the polls below). `subscription` names the
// consumer in log lines on `logger` (may be null). Each step returns false at
// `deadline`.
//
// Unsubscribes and polls (messages polled now are dropped: they were not handed
// out) until the consumer holds no partition.
bool LeaveGroup(rd_kafka_t* rk, std::chrono::steady_clock::time_point deadline,
                const std::string& subscription, spdlog::logger* logger);
// rd_kafka_consumer_close on a queue of its own, served until the group is left.
bool CloseConsumer(rd_kafka_t* rk, std::chrono::steady_clock::time_point deadline,
                   const std::string& subscription, spdlog::logger* logger);
// Destroys `rk` (RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE unless `closed`), waiting up
// to `budget`. rd_kafka_destroy waits for librdkafka's threads, and librdkafka
// before 2.1.0 (Debian 12 has 2.0.2) can keep a partition of a deleted topic
// referenced so that they never end (librdkafka#4187): the destroy runs on a thread
// of its own that holds `keep_alive` (what the client's callbacks use) and is left
// to finish alone after `budget`, with an error logged.
void DestroyConsumer(RdKafkaPtr rk, bool closed, std::shared_ptr<const void> keep_alive,
                     std::chrono::seconds budget, const std::string& subscription,
                     const std::shared_ptr<spdlog::logger>& logger);

}  // namespace unibus::kafka_internal

#endif  // UNIBUS_KAFKA_CONSUMER_GROUP_H_
