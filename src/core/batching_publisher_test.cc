#include "core/batching_publisher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"

namespace unibus::core_internal {
namespace {

// Records batches; fails messages whose data is "fail".
class RecordingSink : public BatchSink {
 public:
  absl::StatusOr<std::vector<absl::StatusOr<MessageId>>> PublishBatch(
      const std::string& topic, std::vector<Message>& batch) override {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(topic, "topic-a");
    sizes.push_back(batch.size());
    std::vector<absl::StatusOr<MessageId>> out;
    for (auto& m : batch) {
      if (m.data == "fail") {
        out.emplace_back(absl::UnavailableError("nope"));
      } else {
        data.push_back(m.data);
        out.emplace_back(absl::StrCat(next++));
      }
    }
    return out;
  }
  std::mutex mu;
  std::vector<std::size_t> sizes;
  std::vector<std::string> data;
  int next = 0;
};

TEST(BatchingPublisherTest, KeepsOrderAndResolvesEveryFuture) {
  auto sink = std::make_shared<RecordingSink>();
  PublisherOptions o;
  o.max_batch_messages = 10;
  auto pub = MakeBatchingPublisher(sink, "topic-a", o, 1 << 20);
  std::vector<PublishFuture> fs;
  for (int i = 0; i < 1000; ++i)
    fs.push_back(pub->Publish(MessageBuilder{}.data(absl::StrCat(i)).build()));
  ASSERT_TRUE(pub->Flush().ok());
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(fs[i].is_ready());
    ASSERT_TRUE(fs[i].get().ok());
    EXPECT_EQ(sink->data[i], absl::StrCat(i));
  }
  for (auto s : sink->sizes) EXPECT_LE(s, 10u);
  pub->Shutdown();
}

// With max_batch_delay 0 the sender wakes on the first queued message; a group
// queued by PublishMany must still reach the sink whole, in order.
TEST(BatchingPublisherTest, PublishManyReachesTheSinkAsOneBatch) {
  auto sink = std::make_shared<RecordingSink>();
  PublisherOptions o;
  o.max_batch_delay = absl::ZeroDuration();
  auto pub = MakeBatchingPublisher(sink, "topic-a", o, 1 << 20);
  constexpr int kGroups = 20, kGroup = 200;
  for (int g = 0; g < kGroups; ++g) {
    std::vector<Message> group;
    for (int i = 0; i < kGroup; ++i)
      group.push_back(MessageBuilder{}.data(absl::StrCat(g * kGroup + i)).build());
    std::vector<PublishFuture> fs = pub->PublishMany(std::move(group));
    ASSERT_EQ(fs.size(), static_cast<std::size_t>(kGroup));
    ASSERT_TRUE(pub->Flush().ok());  // the sender is idle again when the next group comes
    for (int i = 0; i < kGroup; ++i) {
      ASSERT_TRUE(fs[i].get().ok());
      EXPECT_EQ(*fs[i].get(), absl::StrCat(g * kGroup + i));
    }
  }
  std::lock_guard<std::mutex> lock(sink->mu);
  EXPECT_EQ(sink->sizes, std::vector<std::size_t>(kGroups, kGroup));
  ASSERT_EQ(sink->data.size(), static_cast<std::size_t>(kGroups * kGroup));
  for (int i = 0; i < kGroups * kGroup; ++i) EXPECT_EQ(sink->data[i], absl::StrCat(i));
  pub->Shutdown();
}

// Backpressure: a group waits for room for all of it, and a group larger than
// max_pending_messages still goes in whole once the queue is empty (it cannot wait
// for room that never comes).
TEST(BatchingPublisherTest, PublishManyLargerThanThePendingLimitStillGoesIn) {
  auto sink = std::make_shared<RecordingSink>();
  PublisherOptions o;
  o.max_pending_messages = 4;
  o.max_batch_messages = 100;
  auto pub = MakeBatchingPublisher(sink, "topic-a", o, 1 << 20);
  std::vector<Message> group;
  for (int i = 0; i < 10; ++i) group.push_back(MessageBuilder{}.data(absl::StrCat(i)).build());
  std::vector<PublishFuture> fs = pub->PublishMany(std::move(group));
  ASSERT_TRUE(pub->Flush().ok());
  for (auto& f : fs) EXPECT_TRUE(f.get().ok()) << f.get().status();
  std::lock_guard<std::mutex> lock(sink->mu);
  EXPECT_EQ(sink->data.size(), 10u);
  pub->Shutdown();
}

TEST(BatchingPublisherTest, PublishManyRefusesOnlyTheBadMessages) {
  auto sink = std::make_shared<RecordingSink>();
  auto conn = MakeBatchingPublisher(sink, "topic-a", PublisherOptions{}, 100);
  // Through Publisher, as Broker::publisher returns it: the contract's checks apply
  // to each message of the group.
  Publisher pub(conn, Capabilities{}, "topic-a");
  std::vector<Message> group;
  group.push_back(MessageBuilder{}.data("a").build());
  group.push_back(MessageBuilder{}.build());  // neither data nor attributes
  group.push_back(MessageBuilder{}.data(std::string(101, 'x')).build());  // over 100 bytes
  group.push_back(MessageBuilder{}.data("b").build());
  std::vector<PublishFuture> fs = pub.PublishMany(std::move(group));
  ASSERT_EQ(fs.size(), 4u);
  ASSERT_TRUE(pub.Flush().ok());
  EXPECT_TRUE(fs[0].get().ok());
  EXPECT_EQ(fs[1].get().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(fs[2].get().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(fs[2].get().status().message().find("exceeds the limit of 100 bytes"),
            std::string::npos);
  EXPECT_TRUE(fs[3].get().ok());
  std::lock_guard<std::mutex> lock(sink->mu);
  EXPECT_EQ(sink->data, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(sink->sizes, std::vector<std::size_t>{2});
  pub.Shutdown();
  auto after = pub.PublishMany({MessageBuilder{}.data("late").build()});
  EXPECT_EQ(after[0].get().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(BatchingPublisherTest, ReportsPerMessageErrorsAndFlushReturnsThem) {
  auto sink = std::make_shared<RecordingSink>();
  auto pub = MakeBatchingPublisher(sink, "topic-a", PublisherOptions{}, 1 << 20);
  auto ok = pub->Publish(MessageBuilder{}.data("x").build());
  auto bad = pub->Publish(MessageBuilder{}.data("fail").build());
  EXPECT_EQ(pub->Flush().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(ok.get().ok());
  EXPECT_EQ(bad.get().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(pub->Flush().ok());  // the error was reported once
}

TEST(BatchingPublisherTest, RejectsOversizedMessageWithoutSendingIt) {
  auto sink = std::make_shared<RecordingSink>();
  auto pub = MakeBatchingPublisher(sink, "topic-a", PublisherOptions{}, 100);
  auto f = pub->Publish(MessageBuilder{}.data(std::string(101, 'x')).build());
  EXPECT_EQ(f.get().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(f.get().status().message().find("exceeds the limit of 100 bytes"), std::string::npos);
  ASSERT_TRUE(pub->Flush().ok());
  EXPECT_TRUE(sink->data.empty());
}

TEST(BatchingPublisherTest, PublishAfterShutdownFails) {
  auto sink = std::make_shared<RecordingSink>();
  auto pub = MakeBatchingPublisher(sink, "topic-a", PublisherOptions{}, 100);
  auto before = pub->Publish(MessageBuilder{}.data("a").build());
  pub->Shutdown();
  EXPECT_TRUE(before.get().ok());  // pending messages are sent at shutdown
  EXPECT_EQ(pub->Publish(MessageBuilder{}.data("b").build()).get().status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(BatchingPublisherTest, ThenRunsOnCompletion) {
  auto sink = std::make_shared<RecordingSink>();
  auto pub = MakeBatchingPublisher(sink, "topic-a", PublisherOptions{}, 100);
  std::atomic<int> done{0};
  for (int i = 0; i < 50; ++i) {
    pub->Publish(MessageBuilder{}.data("a").build()).then([&](const absl::StatusOr<MessageId>& r) {
      if (r.ok()) ++done;
    });
  }
  ASSERT_TRUE(pub->Flush().ok());
  EXPECT_EQ(done.load(), 50);
}

}  // namespace
}  // namespace unibus::core_internal
