// feed + classify + sink together, with the report `unibus pipeline` prints.
#ifndef UNIBUS_PIPELINE_PIPELINE_H_
#define UNIBUS_PIPELINE_PIPELINE_H_

#include <string>

#include "absl/status/statusor.h"
#include "pipeline/stages.h"

namespace unibus::pipeline {

struct PipelineOptions {
  std::string in_url;   // broker for images
  std::string out_url;  // broker for predictions (may differ)
  std::string db = "sqlite:predictions.db";
  // Given to both brokers: its logger gets the library's warnings and the stages'.
  BrokerOptions broker_options;
  // Names this run. The run's topics, subscriptions and image ids carry it
  // ("images-<run>", "classifier-<run>", "<run>/img-7", ...), so a run never touches
  // what another run or another application made, and the report counts only this
  // run's rows. Empty: a new id ("r" + UTC time + a random suffix). Letters, digits,
  // '-' and '_', at most 64 characters; InvalidArgument otherwise.
  std::string run_id;
  // Use the names in feed / classify / sink as they are instead, after DELETING and
  // re-creating those topics and subscriptions and EMPTYING the predictions table.
  // Destroys data that may not be the pipeline's: only when asked (`--fresh`).
  bool fresh = false;
  // Delete the topics and subscriptions the run created when it ends (not its rows).
  // A dead-letter topic that received messages is kept.
  bool delete_run_topics = true;
  FeedOptions feed;
  ClassifyOptions classify;
  SinkOptions sink;
  absl::Duration stall_timeout = absl::Seconds(60);  // give up when nothing is stored for this long
};

struct PipelineReport {
  std::string in_url, out_url, db, model_version;
  std::string run_id;  // "" for a --fresh run
  std::string images_topic, predictions_topic;
  std::int64_t sent = 0, stored = 0, lost = 0, duplicate_rows = 0, redelivered = 0, rejected = 0;
  std::int64_t labelled = 0, correct = 0;
  double accuracy = 0;                        // correct / labelled, read from the database
  double seconds = 0;                         // first image fed -> last prediction stored
  double throughput = 0;                      // stored / seconds
  double p50_ms = 0, p95_ms = 0, p99_ms = 0;  // produced -> stored
  // The same split by stage (see StoreSummary): where a slow image lost its time.
  struct Stage {
    double p50_ms = 0, p95_ms = 0, p99_ms = 0;
  };
  Stage queue, inference, delivery;
  std::string ToJson() const;
  std::string ToText() const;
};

// Runs the pipeline on run-scoped topics and subscriptions (or, with options.fresh,
// on re-created ones and an emptied table), waits until every image is stored (or
// nothing moves for stall_timeout), and reports this run's rows from the database.
// Deletes or empties nothing it did not create unless options.fresh. Blocks.
absl::StatusOr<PipelineReport> RunPipeline(const ImageSet& images, const ModelFactory& model,
                                           const PipelineOptions& options);

}  // namespace unibus::pipeline

#endif  // UNIBUS_PIPELINE_PIPELINE_H_
