// The pipeline's broker side end to end, with a stand-in model (no LibTorch): every
// image makes exactly one row, the accuracy read from the database matches the
// model's, bad images are dead-lettered and the worker goes on.
#include "pipeline/pipeline.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "unibus/typed.h"

namespace unibus::pipeline {
namespace {

// "Predicts" pixel[0] % 10: right exactly when the feed made pixel[0] == label.
class StandInModel : public Model {
 public:
  absl::StatusOr<std::vector<ModelOutput>> Classify(const std::uint8_t* images,
                                                    std::size_t n) override {
    std::vector<ModelOutput> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = {images[i * kImageBytes] % 10, 0.5f};
    return out;
  }
  std::string version() const override { return "stand-in"; }
  std::string class_name(int index) const override { return absl::StrCat("class-", index); }
};

// Records the batch sizes it is called with.
class RecordingModel : public StandInModel {
 public:
  explicit RecordingModel(std::vector<std::size_t>* sizes) : sizes_(sizes) {}
  absl::StatusOr<std::vector<ModelOutput>> Classify(const std::uint8_t* images,
                                                    std::size_t n) override {
    sizes_->push_back(n);
    return StandInModel::Classify(images, n);
  }

 private:
  std::vector<std::size_t>* sizes_;
};

ImageSet MakeImages(int n, int* expected_correct) {
  ImageSet set;
  set.pixels.assign(static_cast<std::size_t>(n) * kImageBytes, 0);
  *expected_correct = 0;
  for (int i = 0; i < n; ++i) {
    const int label = i % 10;
    const int predicted = (i % 3 == 0) ? (label + 1) % 10 : label;  // a third are wrong
    set.pixels[static_cast<std::size_t>(i) * kImageBytes] = static_cast<std::uint8_t>(predicted);
    set.labels.push_back(label);
    if (predicted == label) ++*expected_correct;
  }
  return set;
}

ModelFactory StandIn() {
  return
      []() -> absl::StatusOr<std::unique_ptr<Model>> { return std::make_unique<StandInModel>(); };
}

TEST(PipelineTest, EveryImageExactlyOneRowAndAccuracyFromTheDatabase) {
  int correct = 0;
  ImageSet images = MakeImages(1000, &correct);
  PipelineOptions o;
  o.in_url = "mem://pipeline-test";
  o.out_url = "mem://pipeline-test-out";
  o.db = absl::StrCat("sqlite:", testing::TempDir(), "/pipeline-", getpid(), ".db");
  auto r = RunPipeline(images, StandIn(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sent, 1000);
  EXPECT_EQ(r->stored, 1000);
  EXPECT_EQ(r->lost, 0);
  EXPECT_EQ(r->duplicate_rows, 0);
  EXPECT_EQ(r->correct, correct);
  EXPECT_DOUBLE_EQ(r->accuracy, correct / 1000.0);
  EXPECT_GT(r->p99_ms, 0);
  EXPECT_NE(r->ToJson().find("\"lost\": 0"), std::string::npos);
  EXPECT_GE(r->queue.p99_ms, r->queue.p50_ms);
  EXPECT_GT(r->delivery.p99_ms, 0);
  EXPECT_NE(r->ToJson().find("stage_latency_ms"), std::string::npos);
  EXPECT_NE(r->ToText().find("by stage"), std::string::npos);
  std::filesystem::remove(o.db.substr(7));
}

// What another application keeps on the broker and in the database: an `images`
// topic with an `audit` subscription holding messages, and a predictions row.
struct Bystanders {
  std::string broker_url, db;
  absl::Status Make() {
    auto b = Broker::Open(broker_url);
    if (!b.ok()) return b.status();
    if (auto s = b->admin().CreateTopic("images"); !s.ok()) return s;
    if (auto s = b->admin().CreateSubscription(
            {.name = "audit", .topic = "images", .start = StartPosition::kEarliest});
        !s.ok())
      return s;
    auto pub = b->publisher("images");
    if (!pub.ok()) return pub.status();
    for (const char* m : {"audit-1", "audit-2", "audit-3"}) {
      if (auto id = pub->Publish(MessageBuilder{}.data(m).build()).get(); !id.ok())
        return id.status();
    }
    pub->Shutdown();
    auto store = PredictionStore::Open(db);
    if (!store.ok()) return store.status();
    vision::Prediction p;
    p.set_image_id("img-0");
    p.set_class_index(3);
    p.set_class_name("earlier");
    p.set_model_version("earlier-run");
    return (*store)->Upsert({p});
  }
  // The audit subscription's messages, acked.
  std::vector<std::string> Audit() {
    std::vector<std::string> got;
    auto b = Broker::Open(broker_url);
    auto sub = b->subscriber("audit");
    if (!sub.ok()) return {"audit subscription: " + sub.status().ToString()};
    for (int i = 0; i < 20; ++i) {
      auto batch = sub->Pull(10, absl::Milliseconds(50));
      if (!batch.ok()) break;
      for (auto& m : *batch) {
        got.push_back(m.message.data);
        std::move(m.ack).ack();
      }
    }
    sub->Shutdown();
    return got;
  }
  std::int64_t EarlierRows() {
    auto store = PredictionStore::Open(db);
    auto s = (*store)->Summarize("img-");
    return s.ok() ? s->rows : -1;
  }
};

// A run uses its own topics, subscriptions and image ids: what was there before it
// (another application's topic, subscription, messages and rows) is left as it was,
// the report counts only the run's rows, and the run removes what it created.
TEST(PipelineTest, RunLeavesWhatItDidNotCreateIntact) {
  const std::string dir = absl::StrCat(testing::TempDir(), "/bystanders-", getpid());
  std::filesystem::create_directories(dir);
  Bystanders by{absl::StrCat("sqlite://", dir, "/bus.db"),
                absl::StrCat("sqlite:", dir, "/pred.db")};
  ASSERT_TRUE(by.Make().ok());
  int correct = 0;
  ImageSet images = MakeImages(50, &correct);
  PipelineOptions o;
  o.in_url = o.out_url = by.broker_url;
  o.db = by.db;
  o.classify.workers = 1;
  auto r = RunPipeline(images, StandIn(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->run_id.empty());
  EXPECT_EQ(r->images_topic, "images-" + r->run_id);
  EXPECT_EQ(r->sent, 50);
  EXPECT_EQ(r->stored, 50) << "the earlier row is not this run's";
  EXPECT_EQ(r->lost, 0);
  EXPECT_EQ(r->correct, correct);

  EXPECT_EQ(by.Audit(), (std::vector<std::string>{"audit-1", "audit-2", "audit-3"}));
  EXPECT_EQ(by.EarlierRows(), 1);
  auto b = Broker::Open(by.broker_url);
  auto topics = b->admin().ListTopics();
  ASSERT_TRUE(topics.ok());
  EXPECT_EQ(*topics, std::vector<std::string>{"images"}) << "the run's topics are not removed";
  auto subs = b->admin().ListSubscriptions();
  ASSERT_TRUE(subs.ok());
  EXPECT_EQ(*subs, std::vector<std::string>{"audit"});

  // A second run sees neither the first run's rows nor the bystanders'.
  o.delete_run_topics = false;
  o.run_id = "second";
  auto r2 = RunPipeline(images, StandIn(), o);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->stored, 50);
  topics = b->admin().ListTopics();
  ASSERT_TRUE(topics.ok());
  EXPECT_EQ(*topics, (std::vector<std::string>{"classifier-second.dead-letter", "images",
                                               "images-second", "predictions-second"}));
  std::filesystem::remove_all(dir);
}

// --fresh is the one way to get the plain names: it deletes and re-creates them and
// empties the table, as asked.
TEST(PipelineTest, FreshRecreatesThePlainNamesAndEmptiesTheTable) {
  const std::string dir = absl::StrCat(testing::TempDir(), "/fresh-", getpid());
  std::filesystem::create_directories(dir);
  Bystanders by{absl::StrCat("sqlite://", dir, "/bus.db"),
                absl::StrCat("sqlite:", dir, "/pred.db")};
  ASSERT_TRUE(by.Make().ok());
  int correct = 0;
  ImageSet images = MakeImages(20, &correct);
  PipelineOptions o;
  o.in_url = o.out_url = by.broker_url;
  o.db = by.db;
  o.fresh = true;
  o.classify.workers = 1;
  auto r = RunPipeline(images, StandIn(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->images_topic, "images");
  EXPECT_EQ(r->stored, 20);
  EXPECT_EQ(by.EarlierRows(), 20) << "the table was emptied, then filled with img-0..19";
  auto subs = Broker::Open(by.broker_url)->admin().ListSubscriptions();
  ASSERT_TRUE(subs.ok());
  EXPECT_EQ(*subs, (std::vector<std::string>{"classifier", "sink"}));
  std::filesystem::remove_all(dir);
}

TEST(PipelineTest, BadRunIdIsRefused) {
  int correct = 0;
  ImageSet images = MakeImages(1, &correct);
  PipelineOptions o;
  o.in_url = o.out_url = "mem://pipeline-bad-run-id";
  o.db = absl::StrCat("sqlite:", testing::TempDir(), "/pipeline-bad-run-", getpid(), ".db");
  o.run_id = "a b";
  auto r = RunPipeline(images, StandIn(), o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(o.db.substr(7))) << "refused before touching anything";
}

TEST(PipelineTest, BadModelFailsAtStart) {
  int correct = 0;
  ImageSet images = MakeImages(10, &correct);
  PipelineOptions o;
  o.in_url = o.out_url = "mem://pipeline-bad-model";
  o.db = absl::StrCat("sqlite:", testing::TempDir(), "/pipeline-bad-", getpid(), ".db");
  auto r = RunPipeline(
      images,
      []() -> absl::StatusOr<std::unique_ptr<Model>> {
        return absl::FailedPreconditionError("model file models/x.pt is missing");
      },
      o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(PipelineTest, BadImagesAreDeadLetteredWithAReasonAndTheWorkerGoesOn) {
  auto broker = Broker::Open("mem://classify-bad-input");
  ASSERT_TRUE(broker.ok());
  ASSERT_TRUE(broker->admin().CreateTopic("images").ok());
  ASSERT_TRUE(broker->admin().CreateTopic("classifier.dead-letter").ok());
  auto dlq = broker->subscriber(
      "dlq-reader", {.topic = "classifier.dead-letter", .start = StartPosition::kEarliest});
  ASSERT_TRUE(dlq.ok());
  auto pub = broker->publisher("images");
  ASSERT_TRUE(pub.ok());
  TypedPublisher<vision::ImageMessage> typed(*pub);
  vision::ImageMessage wrong_size;
  wrong_size.set_image_id("small");
  wrong_size.set_width(10);
  wrong_size.set_height(10);
  wrong_size.set_pixels(std::string(100, '\0'));
  vision::ImageMessage empty;
  empty.set_image_id("empty");
  empty.set_width(28);
  empty.set_height(28);
  vision::ImageMessage good;
  good.set_image_id("good");
  good.set_width(28);
  good.set_height(28);
  good.set_pixels(std::string(784, '\3'));
  ASSERT_TRUE(typed.Publish(wrong_size).get().ok());
  ASSERT_TRUE(typed.Publish(empty).get().ok());
  ASSERT_TRUE(pub->Publish(MessageBuilder{}.data("garbage \xff\xfe").build()).get().ok());
  ASSERT_TRUE(typed.Publish(good).get().ok());

  std::atomic<bool> stop{false};
  ClassifyStats stats;
  absl::Status status;
  std::thread worker([&] {
    status = RunClassifier(*broker, *broker, StandIn(), ClassifyOptions{}, stop, &stats);
  });
  std::vector<std::string> reasons;
  for (int i = 0; i < 100 && reasons.size() < 3; ++i) {
    auto got = dlq->Pull(10, absl::Milliseconds(100));
    ASSERT_TRUE(got.ok());
    for (auto& p : *got) {
      reasons.push_back(p.message.attribute(kDeadLetterReason));
      std::move(p.ack).ack();
    }
  }
  for (int i = 0; i < 100 && stats.classified.load() < 1; ++i)
    absl::SleepFor(absl::Milliseconds(20));
  stop = true;
  worker.join();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(stats.classified.load(), 1);
  // Every dead-lettered image counts once, the unparsable one (refused by the typed
  // subscriber before the worker sees it) too.
  EXPECT_EQ(stats.rejected.load(), 3);
  std::sort(reasons.begin(), reasons.end());
  ASSERT_EQ(reasons.size(), 3u);
  EXPECT_NE(reasons[0].find("image empty is empty"), std::string::npos) << reasons[0];
  EXPECT_NE(reasons[1].find("image small is 10x10"), std::string::npos) << reasons[1];
  EXPECT_NE(reasons[2].find("does not parse"), std::string::npos) << reasons[2];
}

// Each worker runs its model once at every batch size it may see before it takes an
// image (first use of a shape is slow in LibTorch), and says when it is ready.
TEST(PipelineTest, WorkersWarmUpEveryBatchSizeBeforeTakingImages) {
  for (std::size_t max_batch : {4u, 40u}) {
    auto broker = Broker::Open(absl::StrCat("mem://classify-warm-up-", max_batch));
    ASSERT_TRUE(broker.ok());
    ASSERT_TRUE(broker->admin().CreateTopic("images").ok());
    std::vector<std::vector<std::size_t>> sizes(2);
    std::atomic<int> made{0};
    ModelFactory factory = [&]() -> absl::StatusOr<std::unique_ptr<Model>> {
      return std::make_unique<RecordingModel>(&sizes[made++]);
    };
    ClassifyOptions o;
    o.workers = 2;
    o.max_batch = max_batch;
    std::atomic<bool> stop{false};
    ClassifyStats stats;
    absl::Status status;
    std::thread worker([&] { status = RunClassifier(*broker, *broker, factory, o, stop, &stats); });
    for (int i = 0; i < 500 && stats.ready_workers.load() < 2; ++i)
      absl::SleepFor(absl::Milliseconds(10));
    EXPECT_EQ(stats.ready_workers.load(), 2);
    stop = true;
    worker.join();
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(stats.classified.load(), 0);
    std::vector<std::size_t> want;
    for (std::size_t n = 1; n <= std::min<std::size_t>(max_batch, 32); ++n) want.push_back(n);
    if (max_batch > 32) want.push_back(max_batch);
    EXPECT_EQ(sizes[0], want) << "max_batch " << max_batch;
    EXPECT_EQ(sizes[1], want) << "max_batch " << max_batch;
  }
}

TEST(PipelineTest, NoWarmUpWhenTurnedOff) {
  auto broker = Broker::Open("mem://classify-no-warm-up");
  ASSERT_TRUE(broker.ok());
  ASSERT_TRUE(broker->admin().CreateTopic("images").ok());
  std::vector<std::size_t> sizes;
  ModelFactory factory = [&]() -> absl::StatusOr<std::unique_ptr<Model>> {
    return std::make_unique<RecordingModel>(&sizes);
  };
  ClassifyOptions o;
  o.workers = 1;
  o.warm_up = false;
  std::atomic<bool> stop{false};
  ClassifyStats stats;
  absl::Status status;
  std::thread worker([&] { status = RunClassifier(*broker, *broker, factory, o, stop, &stats); });
  for (int i = 0; i < 500 && stats.ready_workers.load() < 1; ++i)
    absl::SleepFor(absl::Milliseconds(10));
  stop = true;
  worker.join();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(stats.ready_workers.load(), 1);
  EXPECT_TRUE(sizes.empty());
}

// A broker that records the options its publishers are made with.
class RecordingBroker : public BrokerConnection {
 public:
  explicit RecordingBroker(std::shared_ptr<BrokerConnection> inner) : inner_(std::move(inner)) {}
  Capabilities capabilities() const override { return inner_->capabilities(); }
  absl::StatusOr<std::shared_ptr<PublisherConnection>> MakePublisher(
      const std::string& topic, const PublisherOptions& options) override {
    delays[topic] = options.max_batch_delay;
    return inner_->MakePublisher(topic, options);
  }
  absl::StatusOr<std::shared_ptr<SubscriberConnection>> MakeSubscriber(
      const std::string& subscription, const SubscriberOptions& options) override {
    return inner_->MakeSubscriber(subscription, options);
  }
  std::shared_ptr<AdminConnection> admin() override { return inner_->admin(); }
  std::string url() const override { return inner_->url(); }

  std::map<std::string, absl::Duration> delays;  // topic -> max_batch_delay

 private:
  std::shared_ptr<BrokerConnection> inner_;
};

// The feed and the classifier publish without the library's batching delay by
// default (each would add it to every image), and pass on what they are told.
TEST(PipelineTest, StagesPublishWithTheirPublishDelay) {
  auto mem = Broker::Open("mem://publish-delay");
  ASSERT_TRUE(mem.ok());
  auto recording = std::make_shared<RecordingBroker>(mem->connection());
  Broker broker(recording);
  int correct = 0;
  ImageSet images = MakeImages(3, &correct);
  ASSERT_TRUE(RunFeed(broker, images, FeedOptions{}).ok());
  EXPECT_EQ(recording->delays["images"], absl::ZeroDuration());
  ASSERT_TRUE(RunFeed(broker, images,
                      FeedOptions{.topic = "images-slow", .publish_delay = absl::Milliseconds(5)})
                  .ok());
  EXPECT_EQ(recording->delays["images-slow"], absl::Milliseconds(5));

  for (absl::Duration delay : {absl::ZeroDuration(), absl::Milliseconds(3)}) {
    ClassifyOptions o;
    o.workers = 1;
    o.warm_up = false;
    o.publish_delay = delay;
    std::atomic<bool> stop{true};  // the workers return at once; the publisher is made before
    ClassifyStats stats;
    ASSERT_TRUE(RunClassifier(broker, broker, StandIn(), o, stop, &stats).ok());
    EXPECT_EQ(recording->delays["predictions"], delay);
  }
}

// Found by a review: a negative or NaN --rate was taken as "as fast as possible".
TEST(PipelineTest, FeedRefusesARateThatIsNotOne) {
  auto broker = Broker::Open("mem://feed-rate");
  ASSERT_TRUE(broker.ok());
  int correct = 0;
  ImageSet images = MakeImages(3, &correct);
  for (double rate : {-3.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    auto r = RunFeed(*broker, images, FeedOptions{.rate = rate});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << rate;
  }
  EXPECT_TRUE(RunFeed(*broker, images, FeedOptions{.rate = 0}).ok());
}

}  // namespace
}  // namespace unibus::pipeline
