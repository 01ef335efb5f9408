#include "vision/evaluation.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "vision/classifier.h"

namespace unibus::vision {
namespace {

bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    if (dir.empty()) continue;
    if (access(absl::StrCat(dir, "/", program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace

double ModelEvaluation::class_accuracy(int c) const {
  std::int64_t total = 0;
  for (std::int64_t n : confusion[c]) total += n;
  return total > 0 ? static_cast<double>(confusion[c][c]) / total : 0;
}

bool Tally(int label, int predicted, ModelEvaluation& e) {
  if (label < 0 || label >= kNumClasses || predicted < 0 || predicted >= kNumClasses) return false;
  ++e.confusion[label][predicted];
  ++e.images;
  if (label == predicted) ++e.correct;
  return true;
}

absl::StatusOr<ModelEvaluation> EvaluateModel(const std::string& path, const Dataset& data) {
  auto classifier = Classifier::Load(path, {.threads = 1});
  if (!classifier.ok()) return classifier.status();
  ModelEvaluation e;
  e.model_version = classifier->version();
  constexpr std::size_t kBatch = 500;
  for (std::size_t begin = 0; begin < data.size(); begin += kBatch) {
    const std::size_t n = std::min(kBatch, data.size() - begin);
    auto out = classifier->Classify(data.image(begin), n);
    if (!out.ok()) return out.status();
    for (std::size_t i = 0; i < n; ++i) Tally(data.labels[begin + i], (*out)[i].class_index, e);
  }
  return e;
}

absl::Status WriteConfusionCsv(const ModelEvaluation& e, const std::string& path) {
  std::ofstream out(path, std::ios::trunc);
  out << "true\\predicted";
  for (std::string_view name : kClassNames) out << "," << name;
  out << "\n";
  for (int t = 0; t < kNumClasses; ++t) {
    out << kClassNames[t];
    for (std::int64_t n : e.confusion[t]) out << "," << n;
    out << "\n";
  }
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write confusion matrix CSV ", path));
  return absl::OkStatus();
}

absl::Status AddToModelCard(const ModelEvaluation& e, const std::string& card_path) {
  std::ifstream in(card_path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("model card ", card_path, " does not exist; `unibus train` writes it"));
  }
  nlohmann::ordered_json card = nlohmann::ordered_json::parse(in, nullptr, false);
  if (!card.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(card_path, " is not a JSON model card"));
  }
  if (card.contains("model_version") && card["model_version"] != e.model_version) {
    return absl::InvalidArgumentError(
        absl::StrCat(card_path, " describes model ", card["model_version"].dump(),
                     ", not the evaluated ", e.model_version, "; pass the card of that model"));
  }
  card["evaluated_images"] = e.images;
  card["evaluated_accuracy"] = e.accuracy();
  nlohmann::ordered_json per_class = nlohmann::ordered_json::object();
  for (int c = 0; c < kNumClasses; ++c)
    per_class[std::string(kClassNames[c])] = e.class_accuracy(c);
  card["per_class_accuracy"] = per_class;
  nlohmann::ordered_json matrix = nlohmann::ordered_json::array();
  for (const auto& row : e.confusion) matrix.push_back(row);
  card["confusion_matrix"] = matrix;
  card["confusion_matrix_note"] = "rows: true class, columns: predicted class, in label order";
  std::ofstream out(card_path, std::ios::trunc);
  out << card.dump(2) << "\n";
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write model card ", card_path));
  return absl::OkStatus();
}

absl::Status RunGnuplotScript(const std::string& script, const std::string& csv_path,
                              const std::string& png_path) {
  if (!OnPath("gnuplot")) {
    return absl::FailedPreconditionError(
        absl::StrCat("gnuplot is not installed (not on PATH), so no plot ", png_path,
                     " was drawn; install gnuplot-nox and rerun, the figures are in ", csv_path));
  }
  if (!std::filesystem::exists(script)) {
    return absl::FailedPreconditionError(
        absl::StrCat("gnuplot script ", script, " does not exist, so no plot ", png_path,
                     " was drawn; run from the source tree or pass the script's path"));
  }
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("cannot start gnuplot (fork failed)");
  if (pid == 0) {
    execlp("gnuplot", "gnuplot", "-c", script.c_str(), csv_path.c_str(), png_path.c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("gnuplot ", script, " failed to draw ", png_path,
                                            " from ", csv_path, " (status ", status, ")"));
  }
  return absl::OkStatus();
}

}  // namespace unibus::vision
