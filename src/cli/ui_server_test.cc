// The --ui page's state (what the stages' callbacks make of a run) and its server:
// the page, /api/state, and the address errors.
#include "cli/ui_server.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace unibus::cli {
namespace {

using nlohmann::json;

vision::Prediction Pred(const std::string& id, int predicted, int label) {
  vision::Prediction p;
  p.set_image_id(id);
  p.set_class_index(predicted);
  p.set_class_name(predicted == 0 ? "T-shirt/top" : "Trouser");
  p.set_true_label(label);
  p.set_queue_ms(2);
  p.set_inference_ms(1);
  return p;
}

json State(const UiState& s) { return json::parse(s.Json()); }

TEST(UiStateTest, PipelineCountsStoredPredictionsOncePerImage) {
  UiState state("pipeline");
  pipeline::ClassifyOptions classify;
  pipeline::SinkOptions sink;
  state.Attach(&classify, &sink);
  ASSERT_TRUE(classify.on_batch && classify.on_reject && sink.on_stored);
  const std::vector<vision::Prediction> batch = {Pred("r/img-0", 0, 0), Pred("r/img-1", 1, 1),
                                                 Pred("r/img-2", 1, 0)};
  std::vector<std::uint8_t> pixels(3 * pipeline::kImageBytes);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i);
  const std::int64_t version0 = State(state)["version"];
  classify.on_batch(batch, pixels.data());
  json j = State(state);
  EXPECT_GT(j["version"].get<std::int64_t>(), version0);
  EXPECT_EQ(j["counts"]["classified"], 3);
  EXPECT_EQ(j["counts"]["stored"], 0);
  EXPECT_EQ(j["accuracy"]["labelled"], 0) << "pipeline accuracy counts stored rows only";
  EXPECT_EQ(j["batch_sizes"][3], 1);
  ASSERT_EQ(j["recent"].size(), 3u);
  std::string img;
  ASSERT_TRUE(absl::Base64Unescape(j["recent"][2]["pixels"].get<std::string>(), &img));
  ASSERT_EQ(img.size(), std::size_t(pipeline::kImageBytes));
  EXPECT_EQ(static_cast<std::uint8_t>(img[0]), pixels[2 * pipeline::kImageBytes]);
  EXPECT_EQ(j["recent"][2]["predicted"], 1);
  EXPECT_EQ(j["recent"][2]["label"], 0);

  sink.on_stored(batch);
  sink.on_stored({batch[2]});  // a redelivered prediction: its row is updated, not added
  j = State(state);
  EXPECT_EQ(j["counts"]["stored"], 3);
  EXPECT_EQ(j["accuracy"]["labelled"], 3);
  EXPECT_EQ(j["accuracy"]["correct"], 2);
  EXPECT_EQ(j["confusion"][0][0], 1);
  EXPECT_EQ(j["confusion"][1][1], 1);
  EXPECT_EQ(j["confusion"][0][1], 1);
  EXPECT_EQ(j["classes"][1], "Trouser");
  EXPECT_EQ(j["latency_ms"]["inference"]["count"], 3);
  EXPECT_EQ(j["latency_ms"]["delivery"]["count"], 3);
  EXPECT_EQ(j["status"], "running");
  EXPECT_TRUE(j["report"].is_null());

  state.Finish(std::string(R"({"predictions_stored": 3})"));
  j = State(state);
  EXPECT_EQ(j["status"], "finished");
  EXPECT_EQ(j["report"]["predictions_stored"], 3);
}

TEST(UiStateTest, ClassifyCountsClassifiedImages) {
  UiState state("classify");
  std::vector<std::uint8_t> pixels(2 * pipeline::kImageBytes, 0);
  state.OnClassified({Pred("a", 0, 0), Pred("b", 0, 1)}, pixels.data());
  json j = State(state);
  EXPECT_EQ(j["accuracy"]["labelled"], 2);
  EXPECT_EQ(j["accuracy"]["correct"], 1);
  EXPECT_TRUE(j["latency_ms"]["delivery"].is_null());
}

TEST(UiStateTest, DeadLettersGroupedByReasonWithoutTheImageId) {
  UiState state("pipeline");
  state.OnDeadLetter("r/img-7", "image r/img-7 is 27x28; the model takes 28x28");
  state.OnDeadLetter("r/img-9", "image r/img-9 is 27x28; the model takes 28x28");
  state.OnDeadLetter("", "image has no image_id");
  json j = State(state);
  EXPECT_EQ(j["counts"]["dead_lettered"], 3);
  ASSERT_EQ(j["dead_letters"]["by_reason"].size(), 2u);
  EXPECT_EQ(j["dead_letters"]["by_reason"][0]["reason"], "image has no image_id");
  EXPECT_EQ(j["dead_letters"]["by_reason"][1]["reason"], "image is 27x28; the model takes 28x28");
  EXPECT_EQ(j["dead_letters"]["by_reason"][1]["count"], 2);
  EXPECT_EQ(j["dead_letters"]["recent"][1]["id"], "r/img-9");
}

TEST(UiStateTest, DeadLettersTheStageCountedButDidNotExplain) {
  UiState state("classify");
  std::int64_t total = 0;
  state.CountDeadLettersWith([&total] { return total; });
  state.OnDeadLetter("a", "image a is empty");
  EXPECT_EQ(State(state)["counts"]["dead_lettered"], 1);
  total = 3;  // and two messages the typed subscriber could not decode
  json j = State(state);
  EXPECT_EQ(j["counts"]["dead_lettered"], 3);
  ASSERT_EQ(j["dead_letters"]["by_reason"].size(), 2u);
  EXPECT_EQ(j["dead_letters"]["by_reason"][0]["reason"], "image is empty");
  EXPECT_TRUE(absl::StrContains(j["dead_letters"]["by_reason"][1]["reason"].get<std::string>(),
                                "past max delivery attempts"));
  EXPECT_EQ(j["dead_letters"]["by_reason"][1]["count"], 2);
}

TEST(UiStateTest, AFailedRunSaysWhy) {
  UiState state("pipeline");
  state.Finish(absl::UnavailableError("broker gone"));
  json j = State(state);
  EXPECT_EQ(j["status"], "failed");
  EXPECT_TRUE(absl::StrContains(j["error"].get<std::string>(), "broker gone"));
}

TEST(UiServerTest, ServesThePageAndTheState) {
  auto state = std::make_shared<UiState>("pipeline");
  state->SetExpected(42);
  auto server = UiServer::Start("127.0.0.1:0", false, state);
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  auto page = client.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_TRUE(absl::StrContains(page->body, "/api/state"));
  EXPECT_FALSE(absl::StrContains(page->body, "<script src")) << "the page loads nothing else";
  auto api = client.Get("/api/state");
  ASSERT_TRUE(api);
  EXPECT_EQ(api->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(api->get_header_value("Cache-Control"), "no-store");
  EXPECT_EQ(json::parse(api->body)["counts"]["expected"], 42);
}

TEST(UiServerTest, BadAddressesAreClearErrors) {
  auto state = std::make_shared<UiState>("pipeline");
  auto first = UiServer::Start("127.0.0.1:0", false, state);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string port = std::to_string((*first)->port());
  auto taken = UiServer::Start("127.0.0.1:" + port, false, state);
  ASSERT_TRUE(absl::IsUnavailable(taken.status())) << taken.status();
  EXPECT_TRUE(absl::StrContains(taken.status().message(), "port " + port + " is already in use"));
  auto remote = UiServer::Start("0.0.0.0:0", false, state);
  ASSERT_TRUE(absl::IsInvalidArgument(remote.status())) << remote.status();
  EXPECT_TRUE(absl::StrContains(remote.status().message(), "--ui-allow-remote"));
  auto malformed = UiServer::Start("8080", false, state);
  ASSERT_TRUE(absl::IsInvalidArgument(malformed.status())) << malformed.status();
  EXPECT_TRUE(absl::StrContains(malformed.status().message(), "not HOST:PORT"));
  EXPECT_TRUE(UiServer::Start("localhost:0", false, state).ok());
}

}  // namespace
}  // namespace unibus::cli
