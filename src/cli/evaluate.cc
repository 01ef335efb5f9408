// unibus evaluate: a trained model on the 10,000 Fashion-MNIST test images, class by
// class: accuracy, per-class accuracy and the confusion matrix (printed, as CSV, drawn by
// gnuplot, and added to the model card).
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_format.h"
#include "cli/common.h"
#include "cli/subcommands.h"
#include "vision/evaluation.h"
#include "vision/idx.h"
#include "vision/threads.h"

namespace unibus::cli {
namespace {

struct EvaluateOptions {
  std::string model = "models/fashion_cnn.pt";
  std::string data = vision::kDefaultFashionMnistDir;
  std::string csv;   // default: <model stem>_confusion.csv beside the model
  std::string plot;  // default: <model stem>_confusion.png beside the model
  std::string card;  // default: the model with .json, when it exists
  std::string script = "models/confusion_matrix.gp";
  bool no_card = false;
};

std::string Beside(const std::string& model, const std::string& suffix) {
  std::filesystem::path p(model);
  return (p.parent_path() / (p.stem().string() + suffix)).string();
}

int run_evaluate(const EvaluateOptions& o) {
  vision::KeepFreedMemoryForReuse();
  auto test = vision::LoadFashionMnist(o.data, vision::Split::kTest);
  if (!test.ok()) return Fail(test.status());
  auto e = vision::EvaluateModel(o.model, *test);
  if (!e.ok()) return Fail(e.status());
  std::cout << absl::StreamFormat("%s (%s): accuracy %.4f on %d test images (%d right)\n", o.model,
                                  e->model_version, e->accuracy(), e->images, e->correct);
  std::cout << absl::StreamFormat("%-12s %8s   confusion (columns: predicted class 0-9)\n",
                                  "true class", "accuracy");
  for (int t = 0; t < vision::kNumClasses; ++t) {
    std::string row;
    for (std::int64_t n : e->confusion[t]) row += absl::StrFormat(" %4d", n);
    std::cout << absl::StreamFormat("%-12s %8.4f  %s\n", vision::kClassNames[t],
                                    e->class_accuracy(t), row);
  }
  const std::string csv = o.csv.empty() ? Beside(o.model, "_confusion.csv") : o.csv;
  const std::string plot = o.plot.empty() ? Beside(o.model, "_confusion.png") : o.plot;
  if (absl::Status s = vision::WriteConfusionCsv(*e, csv); !s.ok()) return Fail(s);
  std::cout << "wrote " << csv << "\n";
  if (!o.no_card) {
    const std::string card =
        o.card.empty() ? std::filesystem::path(o.model).replace_extension(".json").string()
                       : o.card;
    if (!o.card.empty() || std::filesystem::exists(card)) {
      if (absl::Status s = vision::AddToModelCard(*e, card); !s.ok()) return Fail(s);
      std::cout << "added per-class accuracy and the confusion matrix to " << card << "\n";
    }
  }
  // The plot is a convenience: without gnuplot the figures are still in the CSV.
  if (absl::Status s = vision::RunGnuplotScript(o.script, csv, plot); !s.ok()) {
    std::cerr << "unibus: warning: " << s.message() << std::endl;
  } else {
    std::cout << "wrote " << plot << "\n";
  }
  return 0;
}

}  // namespace

void setup_evaluate(CLI::App& app) {
  auto o = std::make_shared<EvaluateOptions>();
  auto* cmd = app.add_subcommand(
      "evaluate",
      "classify the Fashion-MNIST test images with a model: accuracy per class and the "
      "confusion matrix (CSV, gnuplot PNG, model card)");
  cmd->add_option("--model", o->model, "model file written by unibus train")->capture_default_str();
  cmd->add_option("--data", o->data, "directory of the Fashion-MNIST IDX files")
      ->capture_default_str();
  cmd->add_option("--csv", o->csv, "confusion matrix CSV (default: <model>_confusion.csv)");
  cmd->add_option("--plot", o->plot, "confusion matrix PNG (default: <model>_confusion.png)");
  cmd->add_option("--card", o->card,
                  "model card to add the figures to (default: the model's .json, if present)");
  cmd->add_flag("--no-card", o->no_card, "do not touch the model card");
  cmd->add_option("--gnuplot-script", o->script, "gnuplot script that draws the PNG")
      ->capture_default_str();
  cmd->callback([o] { Exit(run_evaluate(*o)); });
}

}  // namespace unibus::cli
