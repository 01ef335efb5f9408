#include "core/block_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <thread>
#include <vector>

namespace unibus::core_internal {
namespace {

#ifndef UNIBUS_BLOCK_POOL_BYPASS
TEST(BlockPoolTest, AFreedBlockIsHandedOutAgain) {
  BlockPool pool(64, 4);
  void* a = pool.Allocate();
  void* b = pool.Allocate();
  pool.Free(a);
  pool.Free(b);
  EXPECT_EQ(pool.cached(), 2u);
  std::set<void*> again = {pool.Allocate(), pool.Allocate()};
  EXPECT_EQ(again, (std::set<void*>{a, b}));
  EXPECT_EQ(pool.cached(), 0u);
  for (void* p : again) pool.Free(p);
}

TEST(BlockPoolTest, KeepsAtMostMaxCachedBlocks) {
  BlockPool pool(32, 3);
  std::vector<void*> blocks;
  for (int i = 0; i < 10; ++i) blocks.push_back(pool.Allocate());
  for (void* p : blocks) pool.Free(p);  // 7 of them go back to the heap
  EXPECT_EQ(pool.cached(), 3u);
}
#else
TEST(BlockPoolTest, UnderAddressSanitizerBlocksGoToTheHeap) {
  BlockPool pool(64, 4);
  pool.Free(pool.Allocate());
  EXPECT_EQ(pool.cached(), 0u);  // so ASan still sees a use after free
}
#endif

// Made on one thread, freed on another, as a publish's state is: every block is
// written in full by its owner and none is handed to two owners at once.
TEST(BlockPoolTest, BlocksMadeOnOneThreadAndFreedOnAnotherAreNeverShared) {
  BlockPool pool(sizeof(std::uint64_t) * 8, 1024);
  constexpr int kBlocks = 200000;
  std::vector<std::atomic<void*>> handoff(256);
  for (auto& h : handoff) h.store(nullptr);
  std::atomic<bool> done{false};
  std::atomic<int> corrupt{0};
  std::thread freer([&] {
    int freed = 0;
    for (std::size_t i = 0; freed < kBlocks; i = (i + 1) % handoff.size()) {
      void* p = handoff[i].exchange(nullptr);
      if (p == nullptr) continue;
      auto* words = static_cast<std::uint64_t*>(p);
      for (int w = 1; w < 8; ++w) corrupt += words[w] != words[0] ? 1 : 0;
      pool.Free(p);
      ++freed;
    }
    done = true;
  });
  for (int n = 0; n < kBlocks; ++n) {
    auto* words = static_cast<std::uint64_t*>(pool.Allocate());
    for (int w = 0; w < 8; ++w) words[w] = static_cast<std::uint64_t>(n);
    auto& slot = handoff[static_cast<std::size_t>(n) % handoff.size()];
    void* expected = nullptr;
    while (!slot.compare_exchange_weak(expected, words)) expected = nullptr;
  }
  freer.join();
  EXPECT_TRUE(done.load());
  EXPECT_EQ(corrupt.load(), 0);
}

struct Tracked {
  explicit Tracked(int* live) : live(live) { ++*live; }
  ~Tracked() { --*live; }
  int* live;
  char payload[100] = {};
};

TEST(PoolAllocatorTest, AllocateSharedObjectsAreConstructedAndDestroyed) {
  int live = 0;
  {
    std::vector<std::shared_ptr<Tracked>> objects;
    for (int i = 0; i < 100; ++i) {
      objects.push_back(std::allocate_shared<Tracked>(PoolAllocator<Tracked>(), &live));
    }
    EXPECT_EQ(live, 100);
  }
  EXPECT_EQ(live, 0);
}

}  // namespace
}  // namespace unibus::core_internal
