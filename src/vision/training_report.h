// What a training run leaves behind besides the model: a CSV of per-epoch figures,
// a PNG plot of them (gnuplot) and a JSON model card.
#ifndef UNIBUS_VISION_TRAINING_REPORT_H_
#define UNIBUS_VISION_TRAINING_REPORT_H_

#include <string>

#include "absl/status/status.h"
#include "vision/trainer.h"

namespace unibus::vision {

// Writes one row per epoch: epoch,train_loss,train_accuracy,test_loss,test_accuracy,
// learning_rate,seconds,raw_test_loss,raw_test_accuracy (test_*: the saved model, the
// weight average when there is one; raw_test_*: the trained weights). Rewritten after
// every epoch by `unibus train`, so it shows a run's progress. Internal when the file
// cannot be written.
absl::Status WriteTrainingCsv(const TrainResult& result, const std::string& path);

// Draws loss and accuracy per epoch from the CSV at `csv_path` into `png_path` by
// running gnuplot. FailedPrecondition (saying to install gnuplot-nox) when gnuplot is
// not on PATH; Internal when it fails. Blocks until gnuplot exits.
absl::Status PlotTrainingCsv(const std::string& csv_path, const std::string& png_path);

// Writes the model card: test accuracy, epochs, seed, training time, parameter count,
// model version and architecture, plus the config and per-epoch figures.
absl::Status WriteModelCard(const TrainConfig& config, const TrainResult& result,
                            const std::string& model_path, const std::string& path);

}  // namespace unibus::vision

#endif  // UNIBUS_VISION_TRAINING_REPORT_H_
