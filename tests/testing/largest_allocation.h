// Measures the largest single allocation (operator new) a piece of code makes, so a
// test can assert that a decoder fed a lying header never allocates what the header
// claims. Replaces the global operator new/delete of the test binary: include this
// header in exactly ONE translation unit of a binary.
#ifndef UNIBUS_TESTS_TESTING_LARGEST_ALLOCATION_H_
#define UNIBUS_TESTS_TESTING_LARGEST_ALLOCATION_H_

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace unibus::alloc_testing {

inline std::atomic<bool> g_tracking_allocations{false};
inline std::atomic<std::size_t> g_largest_allocation{0};

// The largest operator new request made while `f` runs (on any thread).
template <typename F>
std::size_t LargestAllocationDuring(F&& f) {
  g_largest_allocation = 0;
  g_tracking_allocations = true;
  f();
  g_tracking_allocations = false;
  return g_largest_allocation.load();
}

}  // namespace unibus::alloc_testing

// noinline: GCC would otherwise see free() paired with operator new at call sites.
__attribute__((noinline)) void* operator new(std::size_t n) {
  if (unibus::alloc_testing::g_tracking_allocations.load(std::memory_order_relaxed)) {
    std::size_t seen = unibus::alloc_testing::g_largest_allocation.load(std::memory_order_relaxed);
    while (n > seen &&
           !unibus::alloc_testing::g_largest_allocation.compare_exchange_weak(seen, n)) {
    }
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept { std::free(p); }

#endif  // UNIBUS_TESTS_TESTING_LARGEST_ALLOCATION_H_
