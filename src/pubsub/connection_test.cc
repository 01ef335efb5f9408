#include "pubsub/connection.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "pubsub/publisher.h"
#include "pubsub/source.h"

namespace unibus::pubsub_internal {
namespace {

TEST(PubsubConnection, ProjectIds) {
  EXPECT_TRUE(ValidateProject("my-project-1").ok());
  EXPECT_TRUE(ValidateProject("example.com:my-project").ok());
  EXPECT_FALSE(ValidateProject("").ok());
  EXPECT_FALSE(ValidateProject("short").ok());
  EXPECT_FALSE(ValidateProject("My-Project").ok());
  EXPECT_FALSE(ValidateProject("1project").ok());
  EXPECT_FALSE(ValidateProject("project-").ok());
  EXPECT_FALSE(ValidateProject("under_score").ok());
  // user:password@ is refused without echoing what comes before the '@'.
  const absl::Status creds = ValidateProject("bob:pw123@my-project-1");
  EXPECT_EQ(creds.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(creds.message().find("pw123"), absl::string_view::npos) << creds;
  EXPECT_NE(creds.message().find("Application Default Credentials"), absl::string_view::npos);
}

// The emulator takes any project ID, as the official clients do with it.
TEST(PubsubConnection, AnyProjectIdOnTheEmulator) {
  for (const char* id : {"test", "p", "My_Project"}) {
    auto e = ParseEndpoint(
        *core_internal::ParseUrl(absl::StrCat("pubsub://", id, "?emulator=127.0.0.1:8085")));
    EXPECT_TRUE(e.ok()) << id << ": " << e.status();
  }
  auto bad = ParseEndpoint(*core_internal::ParseUrl("pubsub://test?endpoint=example.com:443"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
}

TEST(PubsubConnection, Endpoints) {
  auto url = core_internal::ParseUrl("pubsub://my-project?emulator=127.0.0.1:8085");
  ASSERT_TRUE(url.ok());
  auto e = ParseEndpoint(*url);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->emulator);
  EXPECT_EQ(e->address, "127.0.0.1:8085");
  EXPECT_EQ(e->project, "my-project");
  auto noport = ParseEndpoint(*core_internal::ParseUrl("pubsub://my-project?emulator=localhost"));
  EXPECT_EQ(noport.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(e->streams, 0u);
  auto streams =
      ParseEndpoint(*core_internal::ParseUrl("pubsub://my-project?emulator=127.0.0.1:1&streams=3"));
  ASSERT_TRUE(streams.ok()) << streams.status();
  EXPECT_EQ(streams->streams, 3u);
  for (const char* bad : {"0", "65", "x", "-1"}) {
    auto b = ParseEndpoint(*core_internal::ParseUrl(
        absl::StrCat("pubsub://my-project?emulator=127.0.0.1:1&streams=", bad)));
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(b.status().message().find("streams"), std::string::npos) << bad;
  }
}

TEST(PubsubConnection, OrderingParameter) {
  auto on = ParseEndpoint(*core_internal::ParseUrl("pubsub://my-project?emulator=127.0.0.1:1"));
  ASSERT_TRUE(on.ok());
  EXPECT_TRUE(on->ordering);
  auto off = ParseEndpoint(
      *core_internal::ParseUrl("pubsub://my-project?emulator=127.0.0.1:1&ordering=off"));
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->ordering);
  auto bad = ParseEndpoint(
      *core_internal::ParseUrl("pubsub://my-project?emulator=127.0.0.1:1&ordering=maybe"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PubsubSource, StreamCount) {
  EXPECT_EQ(StreamCount(0, 1000), 10u);
  EXPECT_EQ(StreamCount(0, 5000), 16u);
  EXPECT_EQ(StreamCount(0, 250), 3u);
  EXPECT_EQ(StreamCount(0, 1), 1u);
  EXPECT_EQ(StreamCount(0, 1000000), 16u);
  EXPECT_EQ(StreamCount(7, 1000), 7u);
}

TEST(PubsubConnection, NamesAndStatuses) {
  EXPECT_EQ(TopicPath("p", "t"), "projects/p/topics/t");
  EXPECT_EQ(SubscriptionPath("p", "s"), "projects/p/subscriptions/s");
  EXPECT_EQ(ShortName("projects/p/topics/t"), "t");
  EXPECT_EQ(ShortName("_deleted-topic_"), "_deleted-topic_");
  Endpoint e{.project = "proj-one",
             .address = "127.0.0.1:9",
             .emulator = true,
             .url = "pubsub://proj-one"};
  auto s =
      ToStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused"), e, "publishing");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("127.0.0.1:9"), std::string::npos);
  EXPECT_NE(s.message().find("PUBSUB_EMULATOR_HOST"), std::string::npos);
  EXPECT_EQ(ToStatus(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "x"), e, "y").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ToStatus(grpc::Status(grpc::StatusCode::NOT_FOUND, "x"), e, "y").code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(IsRetryable(grpc::StatusCode::UNAVAILABLE));
  EXPECT_FALSE(IsRetryable(grpc::StatusCode::NOT_FOUND));
}

TEST(PubsubPublisherValidation, RejectsWhatPubsubWouldRefuse) {
  EXPECT_TRUE(ValidateForPubsub(MessageBuilder{}.data("x").build(), 10 << 20, "t").ok());
  EXPECT_TRUE(ValidateForPubsub(MessageBuilder{}.attribute("k", "v").build(), 10 << 20, "t").ok());
  EXPECT_FALSE(ValidateForPubsub(Message{}, 10 << 20, "t").ok());
  // Not UTF-8: refused before sending (the server's answer would look transient).
  EXPECT_EQ(
      ValidateForPubsub(MessageBuilder{}.data("x").attribute("k\xff", "v").build(), 10 << 20, "t")
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(
      ValidateForPubsub(MessageBuilder{}.data("x").attribute("k", "\xff").build(), 10 << 20, "t")
          .ok());
  EXPECT_FALSE(
      ValidateForPubsub(MessageBuilder{}.data("x").ordering_key("\xff").build(), 10 << 20, "t")
          .ok());
  EXPECT_FALSE(
      ValidateForPubsub(MessageBuilder{}.data(std::string(10'000'001, 'x')).build(), 10 << 20, "t")
          .ok());
  EXPECT_FALSE(ValidateForPubsub(MessageBuilder{}.data("x").build(), 0, "t").ok());
  EXPECT_FALSE(
      ValidateForPubsub(MessageBuilder{}.data("x").attribute("k", std::string(1025, 'v')).build(),
                        10 << 20, "t")
          .ok());
  EXPECT_FALSE(
      ValidateForPubsub(MessageBuilder{}.data("x").ordering_key(std::string(1025, 'k')).build(),
                        10 << 20, "t")
          .ok());
}

}  // namespace
}  // namespace unibus::pubsub_internal
