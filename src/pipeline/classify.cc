#include <algorithm>
#include <cstring>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/thread_name.h"
#include "pipeline/stages.h"
#include "spdlog/logger.h"
#include "unibus/typed.h"

namespace unibus::pipeline {

absl::Status ValidateImage(const vision::ImageMessage& image) {
  if (image.image_id().empty()) return absl::InvalidArgumentError("image has no image_id");
  if (image.pixels().empty())
    return absl::InvalidArgumentError(absl::StrCat("image ", image.image_id(), " is empty"));
  if (image.width() != kImageSide || image.height() != kImageSide) {
    return absl::InvalidArgumentError(absl::StrCat("image ", image.image_id(), " is ",
                                                   image.width(), "x", image.height(),
                                                   "; the model takes 28x28"));
  }
  if (image.pixels().size() != static_cast<std::size_t>(kImageBytes)) {
    return absl::InvalidArgumentError(absl::StrCat("image ", image.image_id(), " has ",
                                                   image.pixels().size(),
                                                   " pixel bytes; 28x28 needs 784"));
  }
  return absl::OkStatus();
}

namespace {

// Batch sizes up to this are each run once before the first image; past it only
// max_batch itself (the warm-up grows with the square of the sizes).
constexpr std::size_t kMaxWarmBatch = 32;

// Runs `model` once on blank images at every batch size the worker can hand it.
// LibTorch (oneDNN) builds its kernels for a shape on first use: measured 5-40 ms
// per new batch size on a 2-core machine, which otherwise lands on live images,
// a latency spike each time a batch of a size not yet seen comes along.
void WarmUp(Model& model, std::size_t max_batch) {
  std::vector<std::uint8_t> blank(max_batch * kImageBytes, 0);
  for (std::size_t n = 1; n <= std::min(max_batch, kMaxWarmBatch); ++n) {
    (void)model.Classify(blank.data(), n);
  }
  if (max_batch > kMaxWarmBatch) (void)model.Classify(blank.data(), max_batch);
}

// The stage's own figures (ClassifyOptions::metrics); each null when not measured.
struct Figures {
  Histogram* batch_size = nullptr;
  Histogram* inference = nullptr;
  Histogram* latency = nullptr;  // the one SubscriberMetrics exports
};

Figures MakeFigures(MetricsRegistry* r, const ClassifyOptions& o) {
  Figures f;
  if (r == nullptr) return f;
  const MetricLabels labels{{"subscription", o.subscription}};
  f.batch_size = r->histogram("unibus_classify_batch_size", "Images per model call.", labels,
                              {1, 2, 4, 8, 16, 32, 64, 128, 256, 512})
                     .value_or(nullptr);
  f.inference = r->histogram("unibus_classify_inference_seconds",
                             "Time of one model call (a micro-batch), in seconds.", labels)
                    .value_or(nullptr);
  f.latency = r->histogram("unibus_end_to_end_latency_seconds",
                           "Time from publish to ack, in seconds.", labels)
                  .value_or(nullptr);
  return f;
}

// One worker: pull a micro-batch, classify, publish predictions, ack on publish.
absl::Status Work(TypedSubscriber<vision::ImageMessage>& in,
                  TypedPublisher<vision::Prediction>& out, Model& model, const ClassifyOptions& o,
                  const std::atomic<bool>& stop, ClassifyStats* stats, const Figures& figures) {
  std::vector<Typed<vision::ImageMessage>> batch;
  std::vector<std::uint8_t> pixels;
  std::vector<vision::Prediction> predictions;
  std::vector<std::string> keys;
  if (o.warm_up) WarmUp(model, o.max_batch);
  ++stats->ready_workers;
  while (!stop.load()) {
    batch.clear();
    // With a p99 target the controller picks this batch's size and wait (<= the options').
    const LatencyTarget::Setting setting = o.latency_target
                                               ? o.latency_target->Current()
                                               : LatencyTarget::Setting{o.max_batch, o.max_wait};
    // Fill the batch: wait for a first image, then up to max_wait for more.
    absl::Time deadline = absl::InfiniteFuture();
    while (batch.size() < setting.max_batch && !stop.load()) {
      const absl::Duration wait = batch.empty()
                                      ? absl::Milliseconds(100)
                                      : std::max(absl::ZeroDuration(), deadline - absl::Now());
      auto got = in.Pull(setting.max_batch - batch.size(), wait);
      if (!got.ok()) return got.status();
      for (auto& t : *got) {
        if (auto s = ValidateImage(t.value); !s.ok()) {
          if (o.on_reject) o.on_reject(t.value.image_id(), std::string(s.message()));
          std::move(t.ack).reject(std::string(s.message()));
          continue;
        }
        if (batch.empty()) deadline = absl::Now() + setting.max_wait;
        batch.push_back(std::move(t));
      }
      if (!batch.empty() && absl::Now() >= deadline) break;
    }
    // Rejected = dead-lettered, counted once per message by the subscriber: bad images,
    // messages the typed subscriber could not decode, and images a failing model sent
    // past max_delivery_attempts.
    stats->rejected.store(in.untyped().stats().dead_lettered);
    if (batch.empty()) continue;
    pixels.resize(batch.size() * kImageBytes);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      std::memcpy(pixels.data() + i * kImageBytes, batch[i].value.pixels().data(), kImageBytes);
    }
    const absl::Time picked = absl::Now();
    auto outputs = model.Classify(pixels.data(), batch.size());
    const absl::Time done = absl::Now();
    if (!outputs.ok() || outputs->size() != batch.size()) {
      const std::string why = outputs.ok() ? "model returned the wrong number of outputs"
                                           : std::string(outputs.status().message());
      if (o.logger)
        o.logger->warn("classify: model failed on a batch of {}: {}", batch.size(), why);
      for (auto& t : batch) std::move(t.ack).nack(why);
      continue;
    }
    const double inference_ms = absl::ToDoubleMilliseconds(done - picked);
    // The batch's predictions go out together: one write on sqlite and mem
    // (TypedPublisher::PublishMany), where publishing them one by one let the
    // publisher's thread commit the first alone.
    predictions.clear();
    keys.clear();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto& img = batch[i].value;
      vision::Prediction& p = predictions.emplace_back();
      p.set_image_id(img.image_id());
      p.set_class_index((*outputs)[i].class_index);
      p.set_class_name(model.class_name((*outputs)[i].class_index));
      p.set_confidence((*outputs)[i].confidence);
      p.set_model_version(model.version());
      if (img.has_label()) p.set_true_label(img.label());
      p.set_produced_at_us(img.produced_at_us());
      p.set_classified_at_us(absl::ToUnixMicros(done));
      p.set_queue_ms(std::max(0.0, (absl::ToUnixMicros(picked) - img.produced_at_us()) / 1000.0));
      p.set_inference_ms(inference_ms);
      p.set_batch_size(static_cast<int>(batch.size()));
      keys.push_back(img.image_id());
    }
    std::vector<PublishFuture> futures = out.PublishMany(predictions, keys);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto ack = std::make_shared<AckHandler>(std::move(batch[i].ack));
      futures[i].then(
          [ack, logger = o.logger, id = keys[i], latency = figures.latency,
           target = o.latency_target.get(), picked,
           published = batch[i].envelope.publish_time](const absl::StatusOr<MessageId>& r) {
            if (r.ok()) {
              std::move(*ack).ack();
              if (latency) latency->Observe(absl::ToDoubleSeconds(absl::Now() - published));
              if (target) {
                const absl::Time now = absl::Now();
                target->Observe(now - published, now - picked);
              }
              return;
            }
            if (logger)
              logger->warn("classify: prediction for {} not published, image will come back: {}",
                           id, r.status().ToString());
            std::move(*ack).nack(absl::StrCat("prediction not published: ", r.status().message()));
          });
    }
    if (o.on_batch) o.on_batch(predictions, pixels.data());
    stats->classified += static_cast<std::int64_t>(batch.size());
    ++stats->batches;
    if (figures.batch_size) figures.batch_size->Observe(static_cast<double>(batch.size()));
    if (figures.inference) figures.inference->Observe(absl::ToDoubleSeconds(done - picked));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunClassifier(Broker& in, Broker& out, const ModelFactory& factory,
                           const ClassifyOptions& o, const std::atomic<bool>& stop,
                           ClassifyStats* stats) {
  if (o.workers < 1) return absl::InvalidArgumentError("--workers must be at least 1");
  if (o.max_batch < 1) return absl::InvalidArgumentError("--max-batch must be at least 1");
  // Load every model first: a missing or incompatible model is an error at start.
  std::vector<std::unique_ptr<Model>> models;
  for (int i = 0; i < o.workers; ++i) {
    auto m = factory();
    if (!m.ok()) return m.status();
    models.push_back(*std::move(m));
  }
  SubscriberOptions so;
  so.topic = o.images_topic;
  so.start = StartPosition::kEarliest;
  so.ack_deadline = o.ack_deadline;
  so.max_outstanding_messages = std::max<std::size_t>(256, o.max_batch * o.workers * 4);
  auto sub = in.subscriber(o.subscription, so);
  if (!sub.ok()) return sub.status();
  auto pub = out.publisher(o.predictions_topic, PublisherOptions{.max_batch_delay = o.publish_delay,
                                                                 .create_topic_if_missing = true});
  if (!pub.ok()) return pub.status();
  std::optional<SubscriberMetrics> sub_metrics;
  const Figures figures = MakeFigures(o.metrics.get(), o);
  if (o.metrics) {
    sub_metrics.emplace(o.metrics, *sub, o.subscription);
    *pub = PublisherMetrics(o.metrics, o.predictions_topic).Wrap(*pub);
    if (auto g = o.metrics->gauge("unibus_model_info", "The model classify serves (value 1).",
                                  {{"version", models[0]->version()}});
        g.ok()) {
      (*g)->Set(1);
    }
  }
  TypedSubscriber<vision::ImageMessage> typed_in(*sub);
  TypedPublisher<vision::Prediction> typed_out(*pub, TypedOptions{.compress_above = 0});
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(o.workers);
  for (int i = 0; i < o.workers; ++i) {
    threads.emplace_back([&, i] {
      core_internal::NameThisThread(absl::StrCat("ub-classify-", i).c_str());
      results[i] = Work(typed_in, typed_out, *models[i], o, stop, stats, figures);
    });
  }
  for (auto& t : threads) t.join();
  (void)typed_out.Flush();  // every prediction out, so its image gets acked
  sub->Shutdown();          // then commit the acks and finish dead-letter writes
  stats->rejected.store(sub->stats().dead_lettered);
  pub->Shutdown();
  for (auto& r : results) {
    if (!r.ok()) return r;
  }
  return absl::OkStatus();
}

}  // namespace unibus::pipeline
