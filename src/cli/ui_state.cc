#include "cli/ui_state.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"

namespace unibus::cli {
namespace {

constexpr std::size_t kRecentImages = 16;
constexpr std::size_t kRecentDeadLetters = 20;
constexpr std::size_t kThroughputSeconds = 300;  // the chart's window
constexpr int kClasses = 10;

nlohmann::json Percentiles(std::vector<double> v) {
  if (v.empty()) return nullptr;
  std::sort(v.begin(), v.end());
  auto at = [&](double p) { return v[std::min(v.size() - 1, std::size_t(p * v.size()))]; };
  return {{"p50", at(0.50)}, {"p95", at(0.95)}, {"p99", at(0.99)}, {"count", v.size()}};
}

void Bump(std::vector<std::int64_t>& per_s, std::size_t second, std::int64_t n) {
  if (per_s.size() <= second) per_s.resize(second + 1, 0);
  per_s[second] += n;
}

// The last kThroughputSeconds of `per_s`, padded with zeros up to `now`.
nlohmann::json Window(const std::vector<std::int64_t>& per_s, std::size_t now) {
  const std::size_t first = now + 1 > kThroughputSeconds ? now + 1 - kThroughputSeconds : 0;
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t s = first; s <= now; ++s) out.push_back(s < per_s.size() ? per_s[s] : 0);
  return out;
}

}  // namespace

UiState::UiState(std::string mode) : mode_(std::move(mode)), start_(absl::Now()) {
  confusion_.assign(kClasses, std::vector<std::int64_t>(kClasses, 0));
  class_names_.resize(kClasses);
}

void UiState::Attach(pipeline::ClassifyOptions* classify, pipeline::SinkOptions* sink) {
  if (classify) {
    classify->on_batch = [this](const std::vector<vision::Prediction>& b, const std::uint8_t* px) {
      OnClassified(b, px);
    };
    classify->on_reject = [this](const std::string& id, const std::string& reason) {
      OnDeadLetter(id, reason);
    };
  }
  if (sink) sink->on_stored = [this](const std::vector<vision::Prediction>& b) { OnStored(b); };
}

std::size_t UiState::Second() const {
  return static_cast<std::size_t>(absl::ToInt64Seconds(absl::Now() - start_));
}

void UiState::SetExpected(std::int64_t images) {
  absl::MutexLock lock(&mu_);
  expected_ = images;
  ++version_;
}

void UiState::CountPrediction(const vision::Prediction& p) {
  const int predicted = p.class_index();
  if (predicted >= 0 && predicted < kClasses && class_names_[predicted].empty())
    class_names_[predicted] = p.class_name();
  if (p.has_true_label() && p.true_label() >= 0) {
    ++labelled_;
    if (p.true_label() == predicted) ++correct_;
    if (p.true_label() < kClasses && predicted >= 0 && predicted < kClasses)
      ++confusion_[p.true_label()][predicted];
  }
  queue_ms_.push_back(p.queue_ms());
  inference_ms_.push_back(p.inference_ms());
}

void UiState::OnClassified(const std::vector<vision::Prediction>& batch,
                           const std::uint8_t* pixels) {
  absl::MutexLock lock(&mu_);
  ++version_;
  classified_ += static_cast<std::int64_t>(batch.size());
  ++batches_;
  Bump(classified_per_s_, Second(), static_cast<std::int64_t>(batch.size()));
  if (batch_sizes_.size() <= batch.size()) batch_sizes_.resize(batch.size() + 1, 0);
  ++batch_sizes_[batch.size()];
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& p = batch[i];
    if (mode_ == "classify") CountPrediction(p);
    if (i + kRecentImages < batch.size()) continue;  // only the newest can be shown
    recent_.push_back(
        {p.image_id(),
         std::string(reinterpret_cast<const char*>(pixels) + i * pipeline::kImageBytes,
                     pipeline::kImageBytes),
         p.class_index(), p.has_true_label() ? p.true_label() : -1, p.confidence()});
    if (recent_.size() > kRecentImages) recent_.pop_front();
  }
}

void UiState::OnStored(const std::vector<vision::Prediction>& batch) {
  const std::int64_t now_us = absl::ToUnixMicros(absl::Now());
  absl::MutexLock lock(&mu_);
  ++version_;
  std::int64_t added = 0;
  for (const auto& p : batch) {
    // A redelivered prediction updates its row: count each image once, as the report.
    if (!stored_ids_.insert(p.image_id()).second) continue;
    ++added;
    if (mode_ == "pipeline") CountPrediction(p);
    delivery_ms_.push_back(std::max<double>(0, (now_us - p.classified_at_us()) / 1000.0));
    end_to_end_ms_.push_back(std::max<double>(0, (now_us - p.produced_at_us()) / 1000.0));
  }
  stored_ += added;
  Bump(stored_per_s_, Second(), added);
}

void UiState::OnDeadLetter(const std::string& image_id, const std::string& reason) {
  std::string group = reason;
  if (!image_id.empty()) {
    // "image <id> is 27x28; ..." -> "image is 27x28; ...": one group per kind of fault.
    const auto at = group.find(absl::StrCat(" ", image_id));
    if (at != std::string::npos) group.erase(at, image_id.size() + 1);
  }
  absl::MutexLock lock(&mu_);
  ++version_;
  ++dead_lettered_;
  ++dead_by_reason_[group];
  dead_recent_.emplace_back(image_id, reason);
  if (dead_recent_.size() > kRecentDeadLetters) dead_recent_.pop_front();
}

void UiState::CountDeadLettersWith(std::function<std::int64_t()> total) {
  absl::MutexLock lock(&mu_);
  dead_letter_total_ = std::move(total);
}

void UiState::Finish(const absl::StatusOr<std::string>& report_json) {
  absl::MutexLock lock(&mu_);
  ++version_;
  if (report_json.ok()) {
    status_ = "finished";
    report_json_ = *report_json;
  } else {
    status_ = "failed";
    error_ = report_json.status().ToString();
  }
  finished_s_ = absl::ToDoubleSeconds(absl::Now() - start_);
}

std::string UiState::Json() const {
  absl::MutexLock lock(&mu_);
  const double elapsed =
      finished_s_ >= 0 ? finished_s_ : absl::ToDoubleSeconds(absl::Now() - start_);
  const std::size_t now = static_cast<std::size_t>(elapsed);
  nlohmann::json j;
  j["mode"] = mode_;
  j["version"] = version_;
  j["status"] = status_;
  j["error"] = error_;
  j["elapsed_s"] = elapsed;
  auto by_reason = dead_by_reason_;
  std::int64_t dead_total = dead_lettered_;
  if (dead_letter_total_) {
    const std::int64_t total = dead_letter_total_();
    if (total > dead_total) {
      by_reason
          ["not an image this stage can read, or past max delivery attempts (unibus "
           "dead-letters list shows each)"] += total - dead_total;
      dead_total = total;
    }
  }
  j["counts"] = {{"expected", expected_},
                 {"classified", classified_},
                 {"stored", stored_},
                 {"batches", batches_},
                 {"dead_lettered", dead_total}};
  j["accuracy"] = {{"labelled", labelled_},
                   {"correct", correct_},
                   {"value", labelled_ > 0 ? double(correct_) / labelled_ : 0.0}};
  j["throughput"] = {
      {"first_second", now + 1 > kThroughputSeconds ? now + 1 - kThroughputSeconds : 0},
      {"classified_per_s", Window(classified_per_s_, now)},
      {"stored_per_s", Window(stored_per_s_, now)}};
  j["latency_ms"] = {{"queue", Percentiles(queue_ms_)},
                     {"inference", Percentiles(inference_ms_)},
                     {"delivery", Percentiles(delivery_ms_)},
                     {"end_to_end", Percentiles(end_to_end_ms_)}};
  j["batch_sizes"] = batch_sizes_;
  j["classes"] = class_names_;
  j["confusion"] = confusion_;
  nlohmann::json reasons = nlohmann::json::array();
  for (const auto& [reason, n] : by_reason) reasons.push_back({{"reason", reason}, {"count", n}});
  nlohmann::json dead = nlohmann::json::array();
  for (const auto& [id, reason] : dead_recent_) dead.push_back({{"id", id}, {"reason", reason}});
  j["dead_letters"] = {{"by_reason", reasons}, {"recent", dead}};
  nlohmann::json recent = nlohmann::json::array();
  for (const auto& r : recent_) {
    recent.push_back({{"id", r.id},
                      {"pixels", absl::Base64Escape(r.pixels)},
                      {"predicted", r.predicted},
                      {"label", r.label},
                      {"confidence", r.confidence}});
  }
  j["recent"] = recent;
  j["report"] = report_json_.empty() ? nlohmann::json(nullptr)
                                     : nlohmann::json::parse(report_json_, nullptr, false);
  return j.dump();
}

}  // namespace unibus::cli
