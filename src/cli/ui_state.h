// What the live pipeline page (--ui) shows: figures gathered from the stages'
// callbacks while they run, served as JSON by UiServer.
#ifndef UNIBUS_CLI_UI_STATE_H_
#define UNIBUS_CLI_UI_STATE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pipeline/stages.h"
#include "vision.pb.h"

namespace unibus::cli {

// Thread-safe: the stages call the On* methods from their worker threads while the
// server reads Json() from its own.
class UiState {
 public:
  // `mode` is "pipeline" (accuracy and the confusion matrix count stored
  // predictions, one per image id, as the report does) or "classify" (they count
  // classified ones). Elapsed time and throughput count from construction.
  explicit UiState(std::string mode);

  // Sets the stages' callbacks in `classify` and `sink` (either may be null) to feed
  // this state. The state must outlive the stages.
  void Attach(pipeline::ClassifyOptions* classify, pipeline::SinkOptions* sink);

  // How many images the run will feed (0: unknown, e.g. a classify service).
  void SetExpected(std::int64_t images);
  // A batch was classified: its predictions and their images (n x 784 bytes).
  void OnClassified(const std::vector<vision::Prediction>& batch, const std::uint8_t* pixels);
  // A batch of predictions was committed to the database.
  void OnStored(const std::vector<vision::Prediction>& batch);
  // An image was dead-lettered; `reason` is grouped with the image id taken out.
  void OnDeadLetter(const std::string& image_id, const std::string& reason);
  // Where the stage counts every dead letter (ClassifyStats::rejected): those not
  // explained by OnDeadLetter (undecodable, wrong type, past max delivery attempts)
  // show as one group of their own. Called by Json(), on the server's thread.
  void CountDeadLettersWith(std::function<std::int64_t()> total);
  // The run ended: with its report (a JSON object, as PipelineReport::ToJson) or
  // the error that ended it.
  void Finish(const absl::StatusOr<std::string>& report_json);

  // The page's figures as a JSON object (see README, "The live pipeline page").
  std::string Json() const;

 private:
  struct Recent {
    std::string id;
    std::string pixels;  // 784 bytes
    int predicted, label;
    float confidence;
  };
  void CountPrediction(const vision::Prediction& p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::size_t Second() const;

  const std::string mode_;
  const absl::Time start_;
  mutable absl::Mutex mu_;
  std::int64_t version_ ABSL_GUARDED_BY(mu_) = 0;  // bumped by every change
  std::string status_ ABSL_GUARDED_BY(mu_) = "running";
  std::string error_ ABSL_GUARDED_BY(mu_);
  std::string report_json_ ABSL_GUARDED_BY(mu_);
  double finished_s_ ABSL_GUARDED_BY(mu_) = -1;
  std::int64_t expected_ ABSL_GUARDED_BY(mu_) = 0;
  std::int64_t classified_ ABSL_GUARDED_BY(mu_) = 0, stored_ ABSL_GUARDED_BY(mu_) = 0;
  std::int64_t batches_ ABSL_GUARDED_BY(mu_) = 0, dead_lettered_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<std::int64_t()> dead_letter_total_ ABSL_GUARDED_BY(mu_);
  std::int64_t labelled_ ABSL_GUARDED_BY(mu_) = 0, correct_ ABSL_GUARDED_BY(mu_) = 0;
  std::unordered_set<std::string> stored_ids_ ABSL_GUARDED_BY(mu_);
  std::vector<std::int64_t> classified_per_s_ ABSL_GUARDED_BY(mu_);
  std::vector<std::int64_t> stored_per_s_ ABSL_GUARDED_BY(mu_);
  std::vector<std::int64_t> batch_sizes_ ABSL_GUARDED_BY(mu_);  // [size] -> batches
  std::vector<double> queue_ms_ ABSL_GUARDED_BY(mu_), inference_ms_ ABSL_GUARDED_BY(mu_);
  std::vector<double> delivery_ms_ ABSL_GUARDED_BY(mu_), end_to_end_ms_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> class_names_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<std::int64_t>> confusion_ ABSL_GUARDED_BY(mu_);  // [true][predicted]
  std::map<std::string, std::int64_t> dead_by_reason_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<std::string, std::string>> dead_recent_ ABSL_GUARDED_BY(mu_);
  std::deque<Recent> recent_ ABSL_GUARDED_BY(mu_);
};

}  // namespace unibus::cli

#endif  // UNIBUS_CLI_UI_STATE_H_
