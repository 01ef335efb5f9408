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
  FeedOptions feed;
  ClassifyOptions classify;
  SinkOptions sink;
  absl::Duration stall_timeout = absl::Seconds(60);  // give up when nothing is stored for this long
};

struct PipelineReport {
  std::string in_url, out_url, db, model_version;
  std::int64_t sent = 0, stored = 0, lost = 0, duplicate_rows = 0, redelivered = 0, rejected = 0;
  std::int64_t labelled = 0, correct = 0;
  double accuracy = 0;                        // correct / labelled, read from the database
  double seconds = 0;                         // first image fed -> last prediction stored
  double throughput = 0;                      // stored / seconds
  double p50_ms = 0, p95_ms = 0, p99_ms = 0;  // produced -> stored
  // The same split by stage (see StoreSummary): where a slow image lost its time.
  struct Stage {
    double p50_ms = 0, p99_ms = 0;
  };
  Stage queue, inference, delivery;
  std::string ToJson() const;
  std::string ToText() const;
};

// Runs the pipeline on fresh topics and a cleared table, waits until every image
// is stored (or nothing moves for stall_timeout), and reports from the database.
absl::StatusOr<PipelineReport> RunPipeline(const ImageSet& images, const ModelFactory& model,
                                           const PipelineOptions& options);

}  // namespace unibus::pipeline

#endif  // UNIBUS_PIPELINE_PIPELINE_H_
