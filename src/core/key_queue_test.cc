#include "core/key_queue.h"

#include <gtest/gtest.h>

namespace unibus::core_internal {
namespace {

TEST(KeyQueueTest, MessagesWithoutAKeyAreNeverHeldBack) {
  KeyQueue q;
  EXPECT_TRUE(q.Admit("", 1));
  EXPECT_TRUE(q.Admit("", 2));
  EXPECT_EQ(q.active_keys(), 0u);
  EXPECT_EQ(q.Release(""), std::nullopt);
}

TEST(KeyQueueTest, LaterMessagesOfAKeyWaitAndComeOutInArrivalOrder) {
  KeyQueue q;
  EXPECT_TRUE(q.Admit("k", 1));
  EXPECT_FALSE(q.Admit("k", 2));
  EXPECT_FALSE(q.Admit("k", 3));
  EXPECT_TRUE(q.Admit("other", 4)) << "another key is independent";
  EXPECT_EQ(q.active_keys(), 2u);
  EXPECT_EQ(q.Release("k"), 2u);
  EXPECT_FALSE(q.Admit("k", 5)) << "2 is now active; 5 waits behind 3";
  EXPECT_EQ(q.Release("k"), 3u);
  EXPECT_EQ(q.Release("k"), 5u);
  EXPECT_EQ(q.Release("k"), std::nullopt);
  EXPECT_EQ(q.active_keys(), 1u) << "k is idle again, 'other' still active";
  EXPECT_TRUE(q.Admit("k", 6)) << "an idle key admits at once";
}

TEST(KeyQueueTest, ReleasingAnIdleKeyIsHarmless) {
  KeyQueue q;
  EXPECT_EQ(q.Release("never-seen"), std::nullopt);
  EXPECT_TRUE(q.Admit("k", 1));
  q.Clear();
  EXPECT_EQ(q.active_keys(), 0u);
  EXPECT_TRUE(q.Admit("k", 2));
}

}  // namespace
}  // namespace unibus::core_internal
