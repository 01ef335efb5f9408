// The three stages of the image pipeline, each usable alone (the `feed`, `classify`
// and `sink` subcommands) or together (`pipeline`). No LibTorch here: the model
// comes in through the Model interface (pipeline/model.h; src/vision adapts its CNN).
#ifndef UNIBUS_PIPELINE_STAGES_H_
#define UNIBUS_PIPELINE_STAGES_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/latency_target.h"
#include "pipeline/model.h"
#include "pipeline/store.h"
#include "unibus/metrics.h"
#include "unibus/unibus.h"
#include "vision.pb.h"

namespace spdlog {
class logger;
}

namespace unibus::pipeline {

// ---- feed ----
struct FeedOptions {
  std::string topic = "images";
  std::size_t count = 0;  // 0: every image of the set
  std::size_t first = 0;  // index of the first image to send (a restart continues here)
  double rate = 0;        // images per second; 0: as fast as possible
  bool progress = false;  // draw a progress bar on stderr (when on_progress is not set)
  // Called after each publish with the images sent so far by this run. May be empty.
  std::function<void(std::size_t sent)> on_progress;
  std::string id_prefix = "img-";
  // The images publisher's max_batch_delay. Zero: a batch goes as soon as the
  // publisher is idle, and batches grow by themselves while a write is under way
  // (waiting 1 ms, the library default, added 1 ms to every image at 1,000/s).
  absl::Duration publish_delay = absl::ZeroDuration();
  // Where the images publisher's figures go (PublisherMetrics); null: nowhere.
  std::shared_ptr<MetricsRegistry> metrics;
};
struct FeedResult {
  std::size_t published = 0;  // images first .. first + published - 1
  double seconds = 0;
};
// Publishes images as ImageMessage (ordering key = image id). Blocks until every
// publish has its result; the first failure is returned.
absl::StatusOr<FeedResult> RunFeed(Broker& broker, const ImageSet& images,
                                   const FeedOptions& options,
                                   const std::atomic<bool>* stop = nullptr);

// ---- classify ----
struct ClassifyOptions {
  std::string subscription = "classifier";
  std::string images_topic = "images";
  std::string predictions_topic = "predictions";
  int workers = 2;  // one model (one intra-op thread) per worker
  std::size_t max_batch = 16;
  absl::Duration max_wait = absl::Milliseconds(2);
  // When set, adapts each micro-batch's size and wait (at most max_batch and max_wait)
  // to keep the p99 of end-to-end latency (image published -> prediction published)
  // under its target; see LatencyTarget. Must outlive RunClassifier.
  std::shared_ptr<LatencyTarget> latency_target;
  // If this worker dies, its unacked images go to another after this long.
  absl::Duration ack_deadline = absl::Seconds(10);
  // The predictions publisher's max_batch_delay. A worker publishes its whole batch at
  // once, so waiting for more (1 ms, the library default) only delays it.
  absl::Duration publish_delay = absl::ZeroDuration();
  // Before taking images, run each worker's model once at every batch size 1..max_batch
  // (up to 32, then max_batch): first use of a shape costs LibTorch 5-40 ms.
  bool warm_up = true;
  // Where the stage's figures go; null: nowhere. The images subscriber's
  // (SubscriberMetrics, unibus_end_to_end_latency_seconds: image published to acked),
  // the predictions publisher's (PublisherMetrics), unibus_classify_batch_size and
  // unibus_classify_inference_seconds (per model call), unibus_model_info{version}.
  std::shared_ptr<MetricsRegistry> metrics;
  // Where the stage says what goes wrong (a prediction not published, ...). May be null.
  std::shared_ptr<spdlog::logger> logger;
  // Observers (the --ui page), each may be empty. Called on the worker threads,
  // concurrently: they must be thread-safe and quick. on_batch gets a classified
  // batch's predictions (handed to the publisher) and their images, n x 784 bytes;
  // on_reject an image dead-lettered as bad input, with the reason.
  std::function<void(const std::vector<vision::Prediction>&, const std::uint8_t*)> on_batch;
  std::function<void(const std::string& image_id, const std::string& reason)> on_reject;
};
struct ClassifyStats {
  std::atomic<std::int64_t> classified{0};
  std::atomic<std::int64_t> rejected{0};
  std::atomic<std::int64_t> batches{0};
  std::atomic<int> ready_workers{0};  // workers warmed up and taking images
};
// Runs `options.workers` threads: each warms its model up (see warm_up), counts
// itself in stats->ready_workers, then pulls micro-batches of images from `in`,
// classifies them, publishes a Prediction per image to `out` and acks each image only
// once its prediction was published. Bad images are rejected to the dead-letter topic
// with the reason. Runs until *stop; returns the first fatal error.
absl::Status RunClassifier(Broker& in, Broker& out, const ModelFactory& model,
                           const ClassifyOptions& options, const std::atomic<bool>& stop,
                           ClassifyStats* stats);

// Checks an ImageMessage; InvalidArgument with the reason when it cannot be classified.
absl::Status ValidateImage(const vision::ImageMessage& image);

// ---- sink ----
struct SinkOptions {
  std::string subscription = "sink";
  std::string predictions_topic = "predictions";
  std::size_t max_batch = 500;
  // Where the stage's figures go; null: nowhere. The predictions subscriber's
  // (SubscriberMetrics, unibus_end_to_end_latency_seconds: prediction published to
  // stored and acked).
  std::shared_ptr<MetricsRegistry> metrics;
  // Where the stage says what goes wrong (a batch the database refused). May be null.
  std::shared_ptr<spdlog::logger> logger;
  // Observer (the --ui page), may be empty: a batch committed to the store, before
  // its acks. Called on the sink's thread.
  std::function<void(const std::vector<vision::Prediction>&)> on_stored;
};
// Pulls predictions and upserts them into `store` in batches, acking after commit.
// Runs until *stop; returns the first fatal error.
absl::Status RunSink(Broker& broker, PredictionStore& store, const SinkOptions& options,
                     const std::atomic<bool>& stop, std::atomic<std::int64_t>* stored);

}  // namespace unibus::pipeline

#endif  // UNIBUS_PIPELINE_STAGES_H_
