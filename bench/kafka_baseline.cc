#include "bench/kafka_baseline.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "kafka/consumer_group.h"

namespace unibus::bench {
namespace {

struct Destroy {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Handle = std::unique_ptr<rd_kafka_t, Destroy>;

absl::StatusOr<Handle> Make(rd_kafka_type_t type, const core_internal::Url& url,
                            const std::map<std::string, std::string>& settings,
                            void (*dr)(rd_kafka_t*, const rd_kafka_message_t*, void*),
                            void* opaque) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  std::map<std::string, std::string> all = settings;
  all["bootstrap.servers"] = url.body;
  for (const auto& [k, v] : url.query) all[k] = v;
  for (const auto& [k, v] : all) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(absl::StrCat("baseline: ", k, ": ", err));
    }
  }
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  if (dr != nullptr) rd_kafka_conf_set_dr_msg_cb(conf, dr);
  rd_kafka_conf_set_opaque(conf, opaque);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("baseline: ", err));
  }
  return Handle(rk);
}

struct ProduceState {
  std::atomic<int> delivered{0};
  std::atomic<int> failed{0};
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* s = static_cast<ProduceState*>(opaque);
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) s->failed.fetch_add(1, std::memory_order_relaxed);
  s->delivered.fetch_add(1, std::memory_order_release);
}

}  // namespace

absl::StatusOr<BaselineResult> RunKafkaBaseline(const core_internal::Url& url,
                                                const BaselineParams& p,
                                                const std::string& existing_topic) {
  BaselineResult r{.name = "raw-librdkafka"};
  const std::string topic = existing_topic.empty() ? absl::StrCat("baseline-", getpid(), "-",
                                                                  absl::ToUnixMicros(absl::Now()))
                                                   : existing_topic;
  ProduceState state;
  auto producer = Make(RD_KAFKA_PRODUCER, url,
                       {{"enable.idempotence", "true"},
                        {"acks", "all"},
                        {"linger.ms", "1"},
                        {"batch.num.messages", absl::StrCat(p.batch)},
                        {"queue.buffering.max.messages", "100000"}},
                       OnDelivery, &state);
  if (!producer.ok()) return producer.status();
  rd_kafka_t* rk = producer->get();
  // Create the topic where the server can; the mock cluster auto-creates it.
  if (existing_topic.empty()) {
    char err[256];
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), 1, -1, err, sizeof(err));
    rd_kafka_AdminOptions_t* o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(o, 2000, err, sizeof(err));
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, o, q);
    if (rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 4000)) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_NewTopic_destroy(nt);
  }
  std::atomic<bool> stop{false};
  std::thread poller([&] {
    while (!stop.load(std::memory_order_acquire)) rd_kafka_poll(rk, 100);
  });
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const std::string payload(p.size, 'x');
  // One untimed message first (as unibus's round): connecting and getting the
  // idempotent producer id are setup, not throughput.
  if (rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
                        RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const absl::Time warm_deadline = absl::Now() + absl::Seconds(30);
    while (state.delivered.load(std::memory_order_acquire) < 1 && absl::Now() < warm_deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  const int warm = state.delivered.load(std::memory_order_acquire);
  const ThreadCpu publish_cpu_before = ThreadCpuNow();
  const absl::Time start = absl::Now();
  for (int i = 0; i < p.messages;) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      stop = true;
      poller.join();
      rd_kafka_topic_destroy(rkt);
      return absl::InternalError(absl::StrCat("baseline produce: ", rd_kafka_err2str(err)));
    }
    ++i;
  }
  while (state.delivered.load(std::memory_order_acquire) < p.messages + warm) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  r.publish_per_s = p.messages / absl::ToDoubleSeconds(absl::Now() - start);
  r.publish_cpu = CpuSince(publish_cpu_before, ThreadCpuNow());
  stop = true;
  poller.join();
  rd_kafka_topic_destroy(rkt);
  if (state.failed.load() > 0)
    return absl::InternalError(absl::StrCat("baseline: ", state.failed.load(), " failed"));

  auto consumer = Make(RD_KAFKA_CONSUMER, url,
                       {{"group.id", topic + ".baseline"},
                        {"enable.auto.commit", "false"},
                        {"enable.auto.offset.store", "false"},
                        {"auto.offset.reset", "earliest"},
                        // As unibus's consumer (kafka/consumer_group.cc): the ratio then
                        // measures the library, not librdkafka 2.0's 1 s refetch stall.
                        {"queued.min.messages", kafka_internal::kQueuedMinMessages}},
                       nullptr, nullptr);
  if (!consumer.ok()) return consumer.status();
  rd_kafka_t* ck = consumer->get();
  rd_kafka_poll_set_consumer(ck);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(ck, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  // Timed from the first message, so the group join is not counted (unibus's
  // consume is timed after its subscriber has joined and fetched too).
  const ThreadCpu cpu_before = ThreadCpuNow();
  int got = 0;
  absl::Time first = absl::InfiniteFuture(), last_commit = absl::Now();
  const absl::Time give_up = absl::Now() + absl::Seconds(120);
  std::size_t bytes = 0;
  while (got < p.messages && absl::Now() < give_up) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(ck, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (got == 0) first = absl::Now();
      bytes += m->len;
      rd_kafka_offset_store(m->rkt, m->partition, m->offset);  // the "ack": commits offset + 1
      ++got;
    }
    rd_kafka_message_destroy(m);
    if (absl::Now() - last_commit >= absl::Milliseconds(50)) {
      rd_kafka_commit(ck, nullptr, 1);
      last_commit = absl::Now();
    }
  }
  // The final commit and leaving the group are timed too: unibus's consume is
  // timed up to its subscriber's Shutdown, which does the same.
  r.consume_cpu = CpuSince(cpu_before, ThreadCpuNow());  // up to the last message, as unibus's
  rd_kafka_commit(ck, nullptr, 0);
  rd_kafka_consumer_close(ck);
  const absl::Time done = absl::Now();
  if (got < p.messages)
    return absl::DeadlineExceededError("baseline consumer did not get every message in 120s");
  r.consume_per_s = p.messages / absl::ToDoubleSeconds(done - first);
  if (bytes != static_cast<std::size_t>(p.messages) * p.size) r.consume_per_s = 0;
  return r;
}

}  // namespace unibus::bench
