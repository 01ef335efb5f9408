#include "kafka/consumer_group.h"

#include <gtest/gtest.h>

#include <string>

namespace unibus::kafka_internal {
namespace {

void NoRebalance(rd_kafka_t*, rd_kafka_resp_err_t, rd_kafka_topic_partition_list_t*, void*) {}
void NoCommit(rd_kafka_t*, rd_kafka_resp_err_t, rd_kafka_topic_partition_list_t*, void*) {}

// The value librdkafka holds for `key` in the consumer MakeConsumer built from `props`
// (no broker needed: rd_kafka_new connects in the background).
std::string ConsumerSetting(const std::map<std::string, std::string>& props,
                            const std::string& key) {
  ClientConfig config{
      .url = "kafka://127.0.0.1:1", .bootstrap = "127.0.0.1:1", .properties = props};
  ClientOpaque opaque;
  auto rk = MakeConsumer(config, "orders-workers", StartPosition::kEarliest, &opaque, NoRebalance,
                         NoCommit);
  EXPECT_TRUE(rk.ok()) << rk.status();
  if (!rk.ok()) return "";
  char value[256];
  size_t size = sizeof(value);
  EXPECT_EQ(rd_kafka_conf_get(rd_kafka_conf(rk->get()), key.c_str(), value, &size),
            RD_KAFKA_CONF_OK)
      << key;
  return value;
}

// librdkafka 2.0 refetches a full prefetch queue only a second later: the default is
// raised so that a backlog is read at full speed (see MakeConsumer).
TEST(ConsumerGroupTest, PrefetchesUpToAMillionMessagesByDefault) {
  EXPECT_EQ(ConsumerSetting({}, "queued.min.messages"), kQueuedMinMessages);
  EXPECT_EQ(ConsumerSetting({}, "queued.max.messages.kbytes"), "65536")
      << "the memory bound stays librdkafka's default";
}

TEST(ConsumerGroupTest, TheUsersPropertiesOverrideDefaults) {
  EXPECT_EQ(ConsumerSetting({{"queued.min.messages", "5000"}}, "queued.min.messages"), "5000");
  EXPECT_EQ(ConsumerSetting({{"client.id", "billing"}}, "client.id"), "billing");
}

TEST(ConsumerGroupTest, WhatCorrectnessDependsOnCannotBeOverridden) {
  EXPECT_EQ(ConsumerSetting({{"group.id", "other"}}, "group.id"), "orders-workers");
  EXPECT_EQ(ConsumerSetting({{"enable.auto.commit", "true"}}, "enable.auto.commit"), "false");
  EXPECT_EQ(ConsumerSetting({{"enable.auto.offset.store", "true"}}, "enable.auto.offset.store"),
            "false");
}

}  // namespace
}  // namespace unibus::kafka_internal
