#include "core/sequence_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

namespace unibus::core_internal {
namespace {

TEST(SequenceTableTest, IdsCountUpAndRemovedValuesAreGone) {
  SequenceTable<std::string> t;
  EXPECT_EQ(t.Add("a"), 1u);
  EXPECT_EQ(t.Add("b"), 2u);
  EXPECT_EQ(t.Add("c"), 3u);
  EXPECT_EQ(t.size(), 3u);
  ASSERT_NE(t.Find(2), nullptr);
  EXPECT_EQ(*t.Find(2), "b");
  EXPECT_TRUE(t.Erase(2));
  EXPECT_FALSE(t.Erase(2)) << "removed twice";
  EXPECT_EQ(t.Find(2), nullptr);
  EXPECT_EQ(t.Find(0), nullptr);
  EXPECT_EQ(t.Find(4), nullptr) << "never added";
  EXPECT_EQ(*t.Find(1), "a");
  EXPECT_EQ(*t.Find(3), "c");
  EXPECT_EQ(t.size(), 2u);
}

// One value held while thousands of later ones come and go (a slow handler): it
// stays findable, and the ring does not grow with the distance.
TEST(SequenceTableTest, AStragglerSurvivesWhileLaterIdsPass) {
  SequenceTable<std::string> t(64);
  const std::uint64_t straggler = t.Add("slow");
  for (int i = 0; i < 10000; ++i) {
    const std::uint64_t id = t.Add(std::to_string(i));
    ASSERT_TRUE(t.Erase(id));
  }
  ASSERT_NE(t.Find(straggler), nullptr);
  EXPECT_EQ(*t.Find(straggler), "slow");
  EXPECT_EQ(t.size(), 1u);
  EXPECT_LE(t.ring_capacity(), 64u);
  const std::uint64_t next = t.Add("next");
  EXPECT_EQ(next, straggler + 10001);
  EXPECT_TRUE(t.Erase(straggler));
  EXPECT_EQ(t.Find(straggler), nullptr);
  EXPECT_EQ(*t.Find(next), "next");
}

// Against a std::map under a random mix of adds and removes, with a window of
// values in flight larger than the ring's span.
TEST(SequenceTableTest, AgreesWithAMapUnderRandomAddsAndRemoves) {
  SequenceTable<int> t(32);
  std::map<std::uint64_t, int> model;
  std::mt19937 rng(7);
  for (int step = 0; step < 20000; ++step) {
    if (model.size() < 100 && (model.empty() || rng() % 2 == 0)) {
      const std::uint64_t id = t.Add(step);
      ASSERT_EQ(model.count(id), 0u);
      model[id] = step;
    } else {
      auto it = model.begin();
      std::advance(it, rng() % model.size());
      ASSERT_TRUE(t.Erase(it->first));
      model.erase(it);
    }
    ASSERT_EQ(t.size(), model.size());
  }
  for (const auto& [id, v] : model) {
    ASSERT_NE(t.Find(id), nullptr) << id;
    EXPECT_EQ(*t.Find(id), v);
  }
  std::map<std::uint64_t, int> seen;
  t.ForEach([&](std::uint64_t id, int& v) { seen[id] = v; });
  EXPECT_EQ(seen, model);
  t.Clear();
  EXPECT_TRUE(t.empty());
  for (const auto& [id, v] : model) EXPECT_EQ(t.Find(id), nullptr);
  EXPECT_GT(t.Add(1), model.rbegin()->first) << "ids go on after Clear";
}

}  // namespace
}  // namespace unibus::core_internal
