// How a trained model does on a labelled set, class by class: overall and per-class
// accuracy and the confusion matrix, as `unibus evaluate` prints and the model card
// records. No LibTorch here.
#ifndef UNIBUS_VISION_EVALUATION_H_
#define UNIBUS_VISION_EVALUATION_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vision/idx.h"

namespace unibus::vision {

struct ModelEvaluation {
  std::string model_version;
  std::int64_t images = 0;
  std::int64_t correct = 0;
  // confusion[t][p]: images of true class t the model called class p.
  std::array<std::array<std::int64_t, kNumClasses>, kNumClasses> confusion{};

  double accuracy() const { return images > 0 ? static_cast<double>(correct) / images : 0; }
  // Of the images of class c, the fraction called c (recall); 0 when there are none.
  double class_accuracy(int c) const;
};

// Adds one answer to `e` (predicted class `predicted` for an image of class `label`).
// Both must be in [0, kNumClasses); others are ignored and return false.
bool Tally(int label, int predicted, ModelEvaluation& e);

// Classifies every image of `data` with the model in `path` (batches of 500, one thread).
// Errors as Classifier::Load and Classify.
absl::StatusOr<ModelEvaluation> EvaluateModel(const std::string& path, const Dataset& data);

// Writes the confusion matrix as CSV: a header row of predicted class names, then one
// row per true class (its name, then its ten counts). Internal when it cannot write.
absl::Status WriteConfusionCsv(const ModelEvaluation& e, const std::string& path);

// Adds "per_class_accuracy" (class name -> fraction) and "confusion_matrix" (rows: true
// class, columns: predicted, in label order) to the JSON model card at `card_path`,
// keeping what is there. NotFound when the card does not exist; InvalidArgument when it
// is not a JSON object or describes another model version than `e`; Internal when it
// cannot be written.
absl::Status AddToModelCard(const ModelEvaluation& e, const std::string& card_path);

// Runs gnuplot on `script` with the CSV and PNG paths as its two arguments
// (`gnuplot -c script csv png`). FailedPrecondition when gnuplot is not on PATH or the
// script does not exist; Internal when gnuplot fails.
absl::Status RunGnuplotScript(const std::string& script, const std::string& csv_path,
                              const std::string& png_path);

}  // namespace unibus::vision

#endif  // UNIBUS_VISION_EVALUATION_H_
