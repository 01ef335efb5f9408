// The trainer's weight average (--ema-decay) and random erasing (--random-erasing).
#include "vision/trainer.h"

#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vision/model.h"
#include "vision/weight_average.h"

namespace unibus::vision {
namespace {

using ::testing::HasSubstr;

TEST(WeightAverageTest, ParametersMoveTowardsTheModelAndBuffersAreCopied) {
  torch::NoGradGuard no_grad;
  FashionCnn model, average;
  for (auto& p : model->parameters()) p.fill_(1);
  for (auto& p : average->parameters()) p.fill_(0);
  for (auto& b : model->named_buffers()) {
    if (b.key().find("running_mean") != std::string::npos) b.value().fill_(3);
  }
  UpdateWeightAverage(model, average, 0.75);
  for (const auto& p : average->named_parameters()) {
    EXPECT_TRUE(torch::allclose(p.value(), torch::full_like(p.value(), 0.25))) << p.key();
  }
  UpdateWeightAverage(model, average, 0.75);  // 0.75 * 0.25 + 0.25 * 1
  for (const auto& p : average->named_parameters()) {
    EXPECT_TRUE(torch::allclose(p.value(), torch::full_like(p.value(), 0.4375))) << p.key();
  }
  int means = 0;
  for (const auto& b : average->named_buffers()) {
    if (b.key().find("running_mean") == std::string::npos) continue;
    ++means;
    EXPECT_TRUE(torch::equal(b.value(), torch::full_like(b.value(), 3))) << b.key();
  }
  EXPECT_EQ(means, 3);
}

TEST(WeightAverageTest, CopyWeightsGivesTheSameVersionAndLeavesTheGeneratorAlone) {
  FashionCnn a, b;
  EXPECT_NE(ModelVersion(a), ModelVersion(b));
  torch::manual_seed(1);
  const double expected = torch::rand({1}).item<double>();
  torch::manual_seed(1);
  CopyWeights(a, b);
  EXPECT_EQ(torch::rand({1}).item<double>(), expected);
  EXPECT_EQ(ModelVersion(a), ModelVersion(b));
}

// 256 random images of 10 classes: enough for the trainer to run its steps.
Dataset RandomImages(std::size_t n) {
  Dataset d;
  torch::manual_seed(5);
  torch::Tensor pixels =
      torch::randint(0, 256, {static_cast<std::int64_t>(n * kImageBytes)}, torch::kUInt8);
  d.images.assign(pixels.data_ptr<std::uint8_t>(),
                  pixels.data_ptr<std::uint8_t>() + pixels.numel());
  for (std::size_t i = 0; i < n; ++i) d.labels.push_back(static_cast<std::uint8_t>(i % 10));
  return d;
}

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("trainer_test_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::create_directories(dir_);
    config_.epochs = 2;
    config_.batch_size = 32;
    config_.seed = 3;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  TrainResult Run(const TrainConfig& config, const std::string& name) {
    absl::StatusOr<TrainResult> r = Train(config, data_, data_, (dir_ / name).string(), {});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : TrainResult();
  }
  std::filesystem::path dir_;
  TrainConfig config_;
  Dataset data_ = RandomImages(256);
};

TEST_F(TrainerTest, WithoutAverageTheTestFiguresAreTheTrainedWeights) {
  const TrainResult r = Run(config_, "plain.pt");
  ASSERT_EQ(r.epochs.size(), 2u);
  for (const EpochStats& e : r.epochs) {
    EXPECT_EQ(e.raw_test_accuracy, e.test_accuracy);
    EXPECT_EQ(e.raw_test_loss, e.test_loss);
  }
}

TEST_F(TrainerTest, AverageIsSavedAndEvaluatedInsteadOfTheTrainedWeights) {
  const TrainResult plain = Run(config_, "plain.pt");
  TrainConfig c = config_;
  c.ema_decay = 0.9;
  const TrainResult averaged = Run(c, "ema.pt");
  ASSERT_EQ(averaged.epochs.size(), 2u);
  // The trained weights are the same run as without the average (the average draws no
  // random numbers), so their figures match; the saved model is another one.
  EXPECT_EQ(averaged.epochs.back().raw_test_loss, plain.epochs.back().test_loss);
  EXPECT_NE(averaged.epochs.back().test_loss, averaged.epochs.back().raw_test_loss);
  EXPECT_NE(averaged.version, plain.version);
  EXPECT_EQ(averaged.test_accuracy, averaged.epochs.back().test_accuracy);
  // The file holds the average: loading it gives the version the run reported.
  absl::StatusOr<LoadedModel> loaded = LoadModel((dir_ / "ema.pt").string());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(ModelVersion(loaded->model), averaged.version);
  // Deterministic: the same config gives the same weights.
  EXPECT_EQ(Run(c, "ema2.pt").version, averaged.version);
}

TEST_F(TrainerTest, RandomErasingChangesTheRunDeterministically) {
  const TrainResult plain = Run(config_, "plain.pt");
  TrainConfig c = config_;
  c.random_erasing = 0.5;
  const TrainResult erased = Run(c, "erased.pt");
  EXPECT_NE(erased.version, plain.version);
  EXPECT_EQ(Run(c, "erased2.pt").version, erased.version);
  c.augment = false;  // erasing is part of augmentation: off with it
  EXPECT_EQ(Run(c, "none.pt").version, [&] {
    TrainConfig d = config_;
    d.augment = false;
    return Run(d, "none2.pt").version;
  }());
}

TEST_F(TrainerTest, BadAverageOrErasingIsInvalidArgument) {
  TrainConfig c = config_;
  c.ema_decay = 1;
  absl::StatusOr<TrainResult> r = Train(c, data_, data_, (dir_ / "x.pt").string(), {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("EMA decay must be in [0, 1)"));
  c = config_;
  c.random_erasing = 1.5;
  r = Train(c, data_, data_, (dir_ / "x.pt").string(), {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("random erasing probability must be in [0, 1]"));
}

TEST_F(TrainerTest, SgdIsAnotherDeterministicRunAndMomentumMatters) {
  const TrainResult adamw = Run(config_, "adamw.pt");
  TrainConfig c = config_;
  c.optimizer = Optimizer::kSgd;
  c.learning_rate = 0.05;
  c.weight_decay = 5e-4;
  const TrainResult sgd = Run(c, "sgd.pt");
  EXPECT_NE(sgd.version, adamw.version);
  EXPECT_EQ(Run(c, "sgd2.pt").version, sgd.version);
  c.momentum = 0;  // plain SGD: another trajectory
  EXPECT_NE(Run(c, "plain_sgd.pt").version, sgd.version);
}

TEST_F(TrainerTest, BadMomentumOrWeightDecayIsInvalidArgument) {
  TrainConfig c = config_;
  c.optimizer = Optimizer::kSgd;
  c.momentum = 1;
  absl::StatusOr<TrainResult> r = Train(c, data_, data_, (dir_ / "x.pt").string(), {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("momentum must be in [0, 1)"));
  c = config_;
  c.weight_decay = -0.1;
  r = Train(c, data_, data_, (dir_ / "x.pt").string(), {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("weight decay must be in [0, 1)"));
}

}  // namespace
}  // namespace unibus::vision
