// BlockPool and PoolAllocator: recycling of one size of heap block between the thread
// that allocates and the thread that frees, for per-message state that is made on a
// publishing thread and released on a library thread (a Kafka delivery report).
//
// Why: glibc's per-thread cache (tcache) only serves blocks freed by the same thread.
// A block made on thread A and freed on thread B goes back to A's arena under its lock,
// and A's next malloc takes that lock too; at a million messages per second the two
// threads take turns on it (futex waits and wake-ups on both sides under `perf`). The
// pool hands freed blocks back in batches: a free takes the pool's return lock for one
// push, an allocation takes it only when its own list is empty (one swap per batch).
// Under AddressSanitizer blocks go straight to operator new/delete, so a use after
// free is still reported.
#ifndef UNIBUS_CORE_BLOCK_POOL_H_
#define UNIBUS_CORE_BLOCK_POOL_H_

#include <cstddef>
#include <new>
#include <utility>
#include <vector>

#include "core/mutex.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNIBUS_BLOCK_POOL_BYPASS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNIBUS_BLOCK_POOL_BYPASS 1
#endif
#endif

namespace unibus::core_internal {

// Blocks of `block_size` bytes. Thread-safe. At most `max_cached` freed blocks are kept
// for reuse; beyond that they go back to the heap.
class BlockPool {
 public:
  BlockPool(std::size_t block_size, std::size_t max_cached)
      : block_size_(block_size), max_cached_(max_cached) {}
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;
  ~BlockPool() {
    for (void* p : free_) ::operator delete(p);
    for (void* p : returned_) ::operator delete(p);
  }

  std::size_t block_size() const { return block_size_; }

  // A block of block_size() bytes, aligned for any fundamental type.
  void* Allocate() {
#ifndef UNIBUS_BLOCK_POOL_BYPASS
    MutexLock take(&take_mu_);
    if (free_.empty()) {
      MutexLock give(&give_mu_);
      free_.swap(returned_);  // the whole batch at once
    }
    if (!free_.empty()) {
      void* p = free_.back();
      free_.pop_back();
      return p;
    }
#endif
    return ::operator new(block_size_);
  }

  // Gives back a block from Allocate(), from any thread.
  void Free(void* p) {
#ifndef UNIBUS_BLOCK_POOL_BYPASS
    {
      MutexLock give(&give_mu_);
      if (returned_.size() < max_cached_) {
        if (returned_.capacity() == 0) returned_.reserve(max_cached_);
        returned_.push_back(p);
        return;
      }
    }
#endif
    ::operator delete(p);
  }

  // Blocks waiting for reuse (for tests).
  std::size_t cached() {
    MutexLock take(&take_mu_);
    MutexLock give(&give_mu_);
    return free_.size() + returned_.size();
  }

 private:
  const std::size_t block_size_;
  const std::size_t max_cached_;
  Mutex take_mu_;  // taken before give_mu_ when both are held
  std::vector<void*> free_ ABSL_GUARDED_BY(take_mu_);
  Mutex give_mu_;
  std::vector<void*> returned_ ABSL_GUARDED_BY(give_mu_);
};

// A std::allocator-compatible allocator for std::allocate_shared<T>(PoolAllocator<T>()):
// single objects of each type come from one process-wide BlockPool for that type (never
// destroyed, so a block may outlive whatever made it); arrays from the heap.
template <typename T>
class PoolAllocator {
 public:
  using value_type = T;
  // Freed blocks kept per type: 65,536 (with 200-byte blocks, about 13 MB at most).
  static constexpr std::size_t kMaxCached = 1 << 16;

  PoolAllocator() = default;
  template <typename U>
  PoolAllocator(const PoolAllocator<U>&) {}  // NOLINT(google-explicit-constructor)

  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__,
                "BlockPool's blocks have operator new's default alignment");

  T* allocate(std::size_t n) {
    if (n != 1) return static_cast<T*>(::operator new(n * sizeof(T)));
    return static_cast<T*>(Pool().Allocate());
  }
  void deallocate(T* p, std::size_t n) {
    if (n != 1) {
      ::operator delete(p);
      return;
    }
    Pool().Free(p);
  }

  static BlockPool& Pool() {
    static BlockPool* const pool = new BlockPool(sizeof(T), kMaxCached);  // never destroyed
    return *pool;
  }

  template <typename U>
  bool operator==(const PoolAllocator<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const PoolAllocator<U>&) const {
    return false;
  }
};

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_BLOCK_POOL_H_
