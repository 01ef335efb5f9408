#include "pubsub/received.h"

#include <gtest/gtest.h>

namespace unibus::pubsub_internal {
namespace {

namespace v1 = google::pubsub::v1;

TEST(FromReceivedTest, MovesEveryField) {
  v1::ReceivedMessage rm;
  rm.set_ack_id("ack-1");
  rm.set_delivery_attempt(3);
  auto* pm = rm.mutable_message();
  pm->set_data(std::string("a\0b\xff", 4));
  pm->mutable_attributes()->insert({"k", "v"});
  pm->set_ordering_key("img-7");
  pm->set_message_id("42");
  pm->mutable_publish_time()->set_seconds(1700000000);
  pm->mutable_publish_time()->set_nanos(5000);
  Message m;
  FromReceived(&rm, &m);
  EXPECT_EQ(m.data, std::string("a\0b\xff", 4));
  EXPECT_EQ(m.attributes, (std::map<std::string, std::string>{{"k", "v"}}));
  EXPECT_EQ(m.ordering_key, "img-7");
  EXPECT_EQ(m.id, "42");
  EXPECT_EQ(m.publish_time, absl::FromUnixSeconds(1700000000) + absl::Microseconds(5));
  EXPECT_EQ(m.delivery_attempt, 3);
  EXPECT_EQ(rm.ack_id(), "ack-1");  // left to the caller
}

TEST(FromReceivedTest, PublishTimesPastInt64NanosecondsDoNotOverflow) {
  // 9999-12-31T23:59:59Z is a valid Timestamp, but 253402300799 * 1e9 does not fit in
  // int64: TimeUtil::TimestampToNanoseconds overflowed (undefined behaviour) into a
  // time in 1816 or so.
  v1::ReceivedMessage rm;
  rm.mutable_message()->mutable_publish_time()->set_seconds(253402300799);
  Message m;
  FromReceived(&rm, &m);
  EXPECT_EQ(m.publish_time, absl::FromUnixSeconds(253402300799));
  // Nonsense from a faulty server saturates instead.
  rm.mutable_message()->mutable_publish_time()->set_seconds(INT64_MAX);
  rm.mutable_message()->mutable_publish_time()->set_nanos(-1);
  FromReceived(&rm, &m);
  EXPECT_GT(m.publish_time, absl::FromUnixSeconds(253402300799));
}

}  // namespace
}  // namespace unibus::pubsub_internal
