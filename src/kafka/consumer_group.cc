#include "kafka/consumer_group.h"

#include <cstdlib>
#include <cstring>
#include <future>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/thread_name.h"
#include "kafka/offset_tracker.h"
#include "spdlog/logger.h"

namespace unibus::kafka_internal {
namespace {

void Log(spdlog::logger* logger, spdlog::level::level_enum level, const std::string& msg) {
  if (logger != nullptr) logger->log(level, "{}", msg);
}

std::string Seconds(std::chrono::steady_clock::duration d) {
  return absl::FormatDuration(absl::Trunc(absl::FromChrono(d), absl::Seconds(1)));
}

}  // namespace

absl::StatusOr<RdKafkaPtr> MakeConsumer(
    const ClientConfig& config, const std::string& subscription, StartPosition start,
    ClientOpaque* opaque,
    void (*on_rebalance)(rd_kafka_t*, rd_kafka_resp_err_t, rd_kafka_topic_partition_list_t*, void*),
    void (*on_committed)(rd_kafka_t*, rd_kafka_resp_err_t, rd_kafka_topic_partition_list_t*,
                         void*)) {
  const std::map<std::string, std::string> defaults = {
      {"auto.offset.reset", start == StartPosition::kEarliest ? "earliest" : "latest"},
      {"client.id", "unibus-subscriber"},
      // librdkafka before 2.1 looks again at a prefetch queue that reached
      // queued.min.messages (default 100,000) only on its broker thread's next
      // one-second wakeup (2.1 made that fetch.queue.backoff.ms), so a consumer
      // catching up on a backlog stalled for ~1 s per 100,000 messages: 0.27M msg/s
      // instead of 1.4M on a 300,000-message backlog of 100-byte messages (`unibus
      // bench -n 300000` on one real broker). The memory bound stays
      // queued.max.messages.kbytes (64 MiB for the whole consumer queue).
      {"queued.min.messages", kQueuedMinMessages},
  };
  // The backend's correctness depends on these: offsets move only by our commits.
  const std::map<std::string, std::string> forced = {
      {"group.id", subscription},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
  };
  auto conf = MakeConf(config, defaults, forced, opaque);
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_rebalance_cb(conf->get(), on_rebalance);
  rd_kafka_conf_set_offset_commit_cb(conf->get(), on_committed);
  auto rk = MakeClient(RD_KAFKA_CONSUMER, *std::move(conf), config);
  if (!rk.ok()) return rk;
  if (auto it = config.properties.find("partition.assignment.strategy");
      it != config.properties.end() && absl::StrContains(it->second, "cooperative") &&
      rd_kafka_version() < 0x020c0000) {
    // Measured against Kafka 4.1 (real_kafka_test, 2026-12-02): with 2.0.2 the leader's
    // SyncGroup came back ILLEGAL_GENERATION mid-rebalance and its partitions went
    // back uncommitted (40-70 of 800 redelivered in 2 of 3 runs); 2.12.0 redelivered
    // none. Versions in between were not tested.
    Log(config.options.logger.get(), spdlog::level::warn,
        absl::StrCat("subscription '", subscription, "': partition.assignment.strategy='",
                     it->second, "' with librdkafka ", rd_kafka_version_str(),
                     " (older than 2.12): with 2.0.2, cooperative rebalances delivered acked "
                     "messages again (Kafka 4.1); only 2.12 is tested. Build unibus with its "
                     "bundled librdkafka (scripts/librdkafka.sh, without "
                     "-DUNIBUS_RDKAFKA=system) or use range/roundrobin"));
  }
  return rk;
}

void AnswerRebalance(rd_kafka_t* rk, bool assign, rd_kafka_topic_partition_list_t* partitions,
                     const std::string& subscription, spdlog::logger* logger) {
  const char* protocol = rd_kafka_rebalance_protocol(rk);
  ErrorPtr e;
  if (protocol != nullptr && std::strcmp(protocol, "COOPERATIVE") == 0) {
    e.reset(assign ? rd_kafka_incremental_assign(rk, partitions)
                   : rd_kafka_incremental_unassign(rk, partitions));
  } else if (rd_kafka_resp_err_t r = rd_kafka_assign(rk, assign ? partitions : nullptr);
             r != RD_KAFKA_RESP_ERR_NO_ERROR) {
    e.reset(rd_kafka_error_new(r, "%s", rd_kafka_err2str(r)));
  }
  if (e != nullptr) {
    Log(logger, spdlog::level::err,
        absl::StrCat(assign ? "taking" : "giving back", " partitions of '", subscription,
                     "' failed: ", rd_kafka_error_string(e.get())));
  }
}

void PauseAssignment(rd_kafka_t* rk, bool pause, const std::string& subscription,
                     spdlog::logger* logger) {
  rd_kafka_topic_partition_list_t* assigned = nullptr;
  if (rd_kafka_assignment(rk, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  PartitionListPtr owned(assigned);
  PausePartitions(rk, assigned, pause, subscription, logger);
}

void PausePartitions(rd_kafka_t* rk, const rd_kafka_topic_partition_list_t* partitions, bool pause,
                     const std::string& subscription, spdlog::logger* logger) {
  if (partitions->cnt == 0) return;
  PartitionListPtr list(rd_kafka_topic_partition_list_copy(partitions));
  const rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(rk, list.get())
                                        : rd_kafka_resume_partitions(rk, list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Log(logger, spdlog::level::warn,
        absl::StrCat(pause ? "pausing" : "resuming", " the partitions of '", subscription,
                     "' failed: ", rd_kafka_err2str(err)));
  }
}

bool SendCommit(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* list, bool sync,
                const std::string& subscription, spdlog::logger* logger) {
  if (list->cnt == 0) return true;
  rd_kafka_resp_err_t err = rd_kafka_commit(rk, list, sync ? 0 : 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    Log(logger, spdlog::level::warn,
        absl::StrCat("commit for '", subscription, "' failed: ", rd_kafka_err2str(err),
                     "; settled messages past the last commit may be redelivered"));
    return false;
  }
  return true;
}

absl::Status ConsumeErrorStatus(const rd_kafka_message_t* m, const std::string& topic,
                                const std::string& subscription, const ClientConfig& config,
                                spdlog::logger* logger) {
  const std::string& url = config.url;
  const rd_kafka_resp_err_t err = m->err;
  if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return absl::OkStatus();
  const std::string what = rd_kafka_message_errstr(m);
  if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
    return absl::NotFoundError(absl::StrCat("topic '", topic, "' of subscription '", subscription,
                                            "' does not exist on ", url, ": ", what));
  }
  const std::string context =
      absl::StrCat("consume '", subscription, "' from topic '", topic, "' on ", url);
  if (err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
    return AuthorizationError(config, context, err, "READ", topic, " (to consume)");
  }
  if (err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
    return AuthorizationError(
        config, context, err, "READ", subscription,
        " (to consume as subscription, i.e. consumer group, '" + subscription + "')");
  }
  if (CodeOf(err) == absl::StatusCode::kUnauthenticated) {
    return AuthenticationError(config, absl::StrCat(context, ": ", what));
  }
  if (err == RD_KAFKA_RESP_ERR__FATAL || CodeOf(err) == absl::StatusCode::kPermissionDenied) {
    return ToStatus(err, absl::StrCat("consume '", subscription, "' from ", url, " (", what, ")"));
  }
  Log(logger, spdlog::level::warn, absl::StrCat("consumer of '", subscription, "': ", what));
  return absl::OkStatus();
}

PartitionListPtr CommitListOf(const std::string& topic,
                              const std::vector<AssignmentLedger::Commit>& commits) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(commits.size())));
  for (const auto& c : commits) {
    rd_kafka_topic_partition_t* tp =
        rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), c.partition);
    tp->offset = c.offset;
    if (!c.metadata.empty()) {
      tp->metadata = std::malloc(c.metadata.size());
      std::memcpy(tp->metadata, c.metadata.data(), c.metadata.size());
      tp->metadata_size = c.metadata.size();
    }
  }
  return list;
}

std::vector<CommittedPosition> ReadCommitted(rd_kafka_t* rk,
                                             const rd_kafka_topic_partition_list_t* partitions,
                                             absl::Duration timeout, std::string* error) {
  std::vector<CommittedPosition> out(static_cast<std::size_t>(partitions->cnt));
  PartitionListPtr committed(rd_kafka_topic_partition_list_copy(partitions));
  const rd_kafka_resp_err_t err =
      rd_kafka_committed(rk, committed.get(), static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    *error = rd_kafka_err2str(err);
    return out;
  }
  for (int i = 0; i < committed->cnt; ++i) {
    const rd_kafka_topic_partition_t& c = committed->elems[i];
    if (c.err != RD_KAFKA_RESP_ERR_NO_ERROR || c.offset < 0) continue;
    out[i].offset = c.offset;
    if (c.metadata != nullptr && c.metadata_size > 0) {
      out[i].acked = OffsetTracker::DecodeAcked(
          std::string(static_cast<const char*>(c.metadata), c.metadata_size), c.offset);
    }
  }
  return out;
}

bool LeaveGroup(rd_kafka_t* rk, std::chrono::steady_clock::time_point deadline,
                const std::string& subscription, spdlog::logger* logger) {
  const auto start = std::chrono::steady_clock::now();
  if (auto err = rd_kafka_unsubscribe(rk); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Log(logger, spdlog::level::warn,
        absl::StrCat("unsubscribing '", subscription, "': ", rd_kafka_err2str(err)));
  }
  for (;;) {
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    if (rd_kafka_assignment(rk, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR) return true;
    if (PartitionListPtr(assigned)->cnt == 0) return true;
    if (std::chrono::steady_clock::now() >= deadline) break;
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100)) rd_kafka_message_destroy(m);
  }
  Log(logger, spdlog::level::err,
      absl::StrCat("consumer of '", subscription, "' still held partitions ",
                   Seconds(std::chrono::steady_clock::now() - start),
                   " after leaving its group; closing anyway"));
  return false;
}

bool CloseConsumer(rd_kafka_t* rk, std::chrono::steady_clock::time_point deadline,
                   const std::string& subscription, spdlog::logger* logger) {
  const auto start = std::chrono::steady_clock::now();
  QueuePtr q(rd_kafka_queue_new(rk));
  if (ErrorPtr e{rd_kafka_consumer_close_queue(rk, q.get())}) {
    Log(logger, spdlog::level::warn,
        absl::StrCat("closing consumer of '", subscription, "': ", rd_kafka_error_string(e.get())));
    return true;  // nothing to wait for
  }
  while (!rd_kafka_consumer_closed(rk)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      Log(logger, spdlog::level::err,
          absl::StrCat("consumer of '", subscription, "' did not close within ",
                       Seconds(std::chrono::steady_clock::now() - start)));
      return false;
    }
    // Serves the close's callbacks (rebalance, commits). A fetch that lands during the
    // close also forwards its messages here: rd_kafka_consume_queue returns those (we
    // drop them: they go back to the group uncommitted), where
    // rd_kafka_queue_poll_callback aborts the process on them (librdkafka's assert
    // "res != RD_KAFKA_OP_RES_PASS"; KafkaTest.ShutdownWhileMessagesAreFetchedDoesNotAbort).
    if (rd_kafka_message_t* m = rd_kafka_consume_queue(q.get(), 100)) rd_kafka_message_destroy(m);
  }
  return true;
}

void DestroyConsumer(RdKafkaPtr rk, bool closed, std::shared_ptr<const void> keep_alive,
                     std::chrono::seconds budget, const std::string& subscription,
                     const std::shared_ptr<spdlog::logger>& logger) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  std::thread([rk = rk.release(), flags = closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE,
               keep_alive = std::move(keep_alive), logger, done] {
    core_internal::NameThisThread("ub-kafka-close");
    rd_kafka_destroy_flags(rk, flags);
    done->set_value();
  }).detach();
  if (finished.wait_for(budget) != std::future_status::ready) {
    Log(logger.get(), spdlog::level::err,
        absl::StrCat("librdkafka ", rd_kafka_version_str(),
                     " did not finish destroying the consumer of '", subscription, "' within ",
                     Seconds(budget),
                     " (before 2.1.0 a partition of a deleted topic can keep it alive: "
                     "librdkafka#4187); leaving it to finish in the background"));
  }
}

}  // namespace unibus::kafka_internal
