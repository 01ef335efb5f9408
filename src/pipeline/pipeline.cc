#include "pipeline/pipeline.h"

#include <algorithm>
#include <random>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/thread_name.h"
#include "nlohmann/json.hpp"
#include "spdlog/logger.h"

namespace unibus::pipeline {
namespace {

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(p * sorted.size()))];
}

// --fresh: deletes and recreates a topic so a run starts empty. Where deletion is
// not supported the topic is kept (the run's image ids still identify its rows).
absl::Status FreshTopic(Broker& b, const std::string& topic) {
  auto admin = b.admin();
  const Capabilities caps = b.capabilities();
  absl::Status s;
  if (caps.admin_delete_topic) {
    s = admin.DeleteTopic(topic);
    if (!s.ok() && !absl::IsNotFound(s) && !absl::IsUnimplemented(s)) return s;
  }
  if (!caps.admin_create_topic) return absl::OkStatus();
  s = admin.CreateTopic(TopicConfig{.name = topic});
  if (!s.ok() && !absl::IsAlreadyExists(s) && !absl::IsUnimplemented(s)) return s;
  return absl::OkStatus();
}

absl::Status FreshSubscription(Broker& b, const std::string& sub, const std::string& topic) {
  auto admin = b.admin();
  auto s = admin.DeleteSubscription(sub);
  if (!s.ok() && !absl::IsNotFound(s) && !absl::IsUnimplemented(s)) return s;
  s = admin.CreateSubscription(
      SubscriptionConfig{.name = sub, .topic = topic, .start = StartPosition::kEarliest});
  if (!s.ok() && !absl::IsAlreadyExists(s) && !absl::IsUnimplemented(s)) return s;
  return absl::OkStatus();
}

std::string NewRunId() {
  std::random_device random;
  return absl::StrFormat("r%s-%04x",
                         absl::FormatTime("%Y%m%d-%H%M%S", absl::Now(), absl::UTCTimeZone()),
                         random() & 0xffff);
}

absl::Status ValidateRunId(const std::string& id) {
  const bool ok = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("run id '", id, "' must be 1-64 letters, digits, '-' or '_'"));
}

// What a run made and must remove again (and nothing else).
struct Created {
  Broker* broker;
  bool topic;  // else a subscription
  std::string name;
};

// Creates the run's topic, or uses it when it exists already (then it is not the
// run's to delete). Backends without CreateTopics make it on first publish.
absl::Status RunTopic(Broker& b, const std::string& topic, std::vector<Created>* created) {
  if (!b.capabilities().admin_create_topic) return absl::OkStatus();
  auto s = b.admin().CreateTopic(TopicConfig{.name = topic});
  if (s.ok()) created->push_back({&b, true, topic});
  if (s.ok() || absl::IsAlreadyExists(s) || absl::IsUnimplemented(s)) return absl::OkStatus();
  return s;
}

absl::Status RunSubscription(Broker& b, const std::string& sub, const std::string& topic,
                             std::vector<Created>* created) {
  auto s = b.admin().CreateSubscription(
      SubscriptionConfig{.name = sub, .topic = topic, .start = StartPosition::kEarliest});
  if (s.ok()) created->push_back({&b, false, sub});
  if (s.ok() || absl::IsAlreadyExists(s) || absl::IsUnimplemented(s)) return absl::OkStatus();
  return s;
}

std::string DeadLetterTopic(const ClassifyOptions& o) {
  return absl::StrCat(o.subscription, ".dead-letter");
}

void Log(const BrokerOptions& o, spdlog::level::level_enum level, const std::string& msg) {
  if (o.logger) o.logger->log(level, "{}", msg);
}

}  // namespace

std::string PipelineReport::ToJson() const {
  nlohmann::json j = {{"run_id", run_id},
                      {"images_topic", images_topic},
                      {"predictions_topic", predictions_topic},
                      {"in", in_url},
                      {"out", out_url},
                      {"db", db},
                      {"model_version", model_version},
                      {"images_sent", sent},
                      {"predictions_stored", stored},
                      {"lost", lost},
                      {"duplicate_rows", duplicate_rows},
                      {"redelivered_predictions", redelivered},
                      {"rejected", rejected},
                      {"labelled", labelled},
                      {"correct", correct},
                      {"accuracy", accuracy},
                      {"seconds", seconds},
                      {"throughput_images_per_s", throughput},
                      {"latency_ms", {{"p50", p50_ms}, {"p95", p95_ms}, {"p99", p99_ms}}},
                      {"stage_latency_ms",
                       {{"queue", {{"p50", queue.p50_ms}, {"p99", queue.p99_ms}}},
                        {"inference", {{"p50", inference.p50_ms}, {"p99", inference.p99_ms}}},
                        {"delivery", {{"p50", delivery.p50_ms}, {"p99", delivery.p99_ms}}}}}};
  return j.dump(2);
}

std::string PipelineReport::ToText() const {
  return absl::StrFormat(
      "pipeline: %s -> classify -> %s -> %s\n"
      "  run                  %s  (topics %s, %s)\n"
      "  images sent          %d\n"
      "  predictions stored   %d\n"
      "  lost                 %d\n"
      "  duplicate rows       %d   (redelivered predictions absorbed by the upsert: %d)\n"
      "  accuracy (from db)   %.2f%%  (%d / %d, model %s)\n"
      "  throughput           %.0f images/s  (%.2f s)\n"
      "  latency produce->stored  p50 %.1f ms  p95 %.1f ms  p99 %.1f ms\n"
      "    by stage (p50/p99)     queue %.1f/%.1f ms  inference %.1f/%.1f ms  classified->stored "
      "%.1f/%.1f ms\n",
      in_url, out_url, db, run_id.empty() ? "--fresh" : run_id, images_topic, predictions_topic,
      sent, stored, lost, duplicate_rows, redelivered, 100.0 * accuracy, correct, labelled,
      model_version, throughput, seconds, p50_ms, p95_ms, p99_ms, queue.p50_ms, queue.p99_ms,
      inference.p50_ms, inference.p99_ms, delivery.p50_ms, delivery.p99_ms);
}

absl::StatusOr<PipelineReport> RunPipeline(const ImageSet& images, const ModelFactory& model,
                                           const PipelineOptions& options) {
  PipelineOptions o = options;
  if (!o.fresh) {
    if (o.run_id.empty()) o.run_id = NewRunId();
    if (auto s = ValidateRunId(o.run_id); !s.ok()) return s;
  } else {
    o.run_id.clear();
  }
  auto in = Broker::Open(o.in_url, o.broker_options);
  if (!in.ok()) return in.status();
  auto out = Broker::Open(o.out_url, o.broker_options);
  if (!out.ok()) return out.status();
  auto store = PredictionStore::Open(o.db);
  if (!store.ok()) return store.status();
  // Probe the model once here so a bad model file fails before anything is created.
  std::string version;
  {
    auto m = model();
    if (!m.ok()) return m.status();
    version = (*m)->version();
  }
  if (o.classify.logger == nullptr) o.classify.logger = o.broker_options.logger;
  if (o.sink.logger == nullptr) o.sink.logger = o.broker_options.logger;

  std::vector<Created> created;
  if (o.fresh) {
    Log(o.broker_options, spdlog::level::warn,
        absl::StrCat("--fresh: deleting and re-creating topics '", o.feed.topic, "', '",
                     o.classify.predictions_topic, "', subscriptions '", o.classify.subscription,
                     "', '", o.sink.subscription, "' and emptying the predictions table of ",
                     o.db));
    if (auto s = (*store)->Clear(); !s.ok()) return s;
    for (auto [b, topic] :
         {std::pair{&*in, o.feed.topic}, std::pair{&*out, o.classify.predictions_topic}}) {
      if (auto s = FreshTopic(*b, topic); !s.ok()) return s;
    }
    if (auto s = FreshSubscription(*in, o.classify.subscription, o.feed.topic); !s.ok()) return s;
    if (auto s = FreshSubscription(*out, o.sink.subscription, o.classify.predictions_topic);
        !s.ok())
      return s;
  } else {
    const std::string tail = absl::StrCat("-", o.run_id);
    o.feed.topic += tail;
    o.classify.images_topic = o.feed.topic;
    o.classify.predictions_topic += tail;
    o.sink.predictions_topic = o.classify.predictions_topic;
    o.classify.subscription += tail;
    o.sink.subscription += tail;
    o.feed.id_prefix = absl::StrCat(o.run_id, "/", o.feed.id_prefix);
    for (auto [b, topic] :
         {std::pair{&*in, o.feed.topic}, std::pair{&*out, o.classify.predictions_topic}}) {
      if (auto s = RunTopic(*b, topic, &created); !s.ok()) return s;
    }
    // Made here rather than by the library on the first rejection, so that the run
    // knows it is its own to delete.
    if (auto s = RunTopic(*in, DeadLetterTopic(o.classify), &created); !s.ok()) return s;
    if (auto s = RunSubscription(*in, o.classify.subscription, o.feed.topic, &created); !s.ok())
      return s;
    if (auto s = RunSubscription(*out, o.sink.subscription, o.classify.predictions_topic, &created);
        !s.ok())
      return s;
  }

  std::atomic<bool> stop_classify{false}, stop_sink{false}, classify_returned{false};
  std::atomic<std::int64_t> stored{0};
  ClassifyStats cstats;
  absl::Status classify_status, sink_status;
  std::thread sink([&] {
    core_internal::NameThisThread("ub-sink");
    sink_status = RunSink(*out, **store, o.sink, stop_sink, &stored);
  });
  std::thread classify([&] {
    core_internal::NameThisThread("ub-classifier");
    classify_status = RunClassifier(*in, *out, model, o.classify, stop_classify, &cstats);
    classify_returned = true;
  });
  // The clock starts when every worker has its model loaded and warmed up: the
  // report is about the pipeline running, not about loading LibTorch.
  const absl::Time ready_by = absl::Now() + o.stall_timeout;
  while (cstats.ready_workers.load() < o.classify.workers && !classify_returned.load() &&
         absl::Now() < ready_by) {
    absl::SleepFor(absl::Milliseconds(1));
  }

  const absl::Time start = absl::Now();
  auto fed = RunFeed(*in, images, o.feed);
  std::int64_t last = -1;
  absl::Time last_progress = absl::Now();
  while (fed.ok() && stored.load() < static_cast<std::int64_t>(fed->published) + 0) {
    if (stored.load() != last) {
      last = stored.load();
      last_progress = absl::Now();
    }
    if (absl::Now() - last_progress > o.stall_timeout) break;
    if (!classify_status.ok() || !sink_status.ok()) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  const absl::Time end = absl::Now();
  stop_classify = true;
  classify.join();
  stop_sink = true;
  sink.join();
  if (!fed.ok()) return fed.status();
  if (!classify_status.ok()) return classify_status;
  if (!sink_status.ok()) return sink_status;

  auto summary = (*store)->Summarize(o.feed.id_prefix);
  if (!summary.ok()) return summary.status();
  PipelineReport r;
  r.in_url = in->url();
  r.out_url = out->url();
  r.db = o.db;
  r.model_version = version;
  r.run_id = o.run_id;
  r.images_topic = o.feed.topic;
  r.predictions_topic = o.classify.predictions_topic;
  r.sent = static_cast<std::int64_t>(fed->published);
  r.stored = summary->rows;
  r.lost = r.sent - summary->distinct_images;
  r.duplicate_rows = summary->rows - summary->distinct_images;
  r.redelivered = summary->redeliveries;
  r.rejected = cstats.rejected.load();
  r.labelled = summary->labelled;
  r.correct = summary->correct;
  r.accuracy = r.labelled > 0 ? static_cast<double>(r.correct) / r.labelled : 0;
  r.seconds = absl::ToDoubleSeconds(end - start);
  r.throughput = r.seconds > 0 ? r.stored / r.seconds : 0;
  r.p50_ms = Percentile(summary->latencies_ms, 0.50);
  r.p95_ms = Percentile(summary->latencies_ms, 0.95);
  r.p99_ms = Percentile(summary->latencies_ms, 0.99);
  auto stage = [](const std::vector<double>& v) {
    return PipelineReport::Stage{Percentile(v, 0.50), Percentile(v, 0.95), Percentile(v, 0.99)};
  };
  r.queue = stage(summary->queue_ms);
  r.inference = stage(summary->inference_ms);
  r.delivery = stage(summary->delivery_ms);
  if (o.delete_run_topics && !created.empty()) {
    // Subscriptions before their topics; a dead-letter topic holding rejected
    // images is kept for the user to look at.
    std::stable_partition(created.begin(), created.end(),
                          [](const Created& c) { return !c.topic; });
    for (const auto& c : created) {
      if (c.topic && c.name == DeadLetterTopic(o.classify) && r.rejected > 0) {
        Log(o.broker_options, spdlog::level::warn,
            absl::StrCat(r.rejected, " rejected images are in the dead-letter topic '", c.name,
                         "' of ", c.broker->url()));
        continue;
      }
      auto admin = c.broker->admin();
      auto s = c.topic ? admin.DeleteTopic(c.name) : admin.DeleteSubscription(c.name);
      if (!s.ok() && !absl::IsNotFound(s) && !absl::IsUnimplemented(s)) {
        Log(o.broker_options, spdlog::level::warn,
            absl::StrCat("could not delete the run's ", c.topic ? "topic" : "subscription", " '",
                         c.name, "': ", s.ToString()));
      }
    }
  }
  return r;
}

}  // namespace unibus::pipeline
