// A table of values under sequential ids, for messages in flight: ids are handed
// out in order and mostly removed in about that order.
#ifndef UNIBUS_CORE_SEQUENCE_TABLE_H_
#define UNIBUS_CORE_SEQUENCE_TABLE_H_

#include <algorithm>
#include <bit>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace unibus::core_internal {

// The values live in a ring indexed by id: adding is an append, finding is an
// index, and removing the oldest advances the ring. Consecutive messages sit next
// to each other in memory, where a hash table would scatter them (at a cache miss
// each). A value that stays while many later ones come and go (a slow handler)
// would hold the ring open behind it; once the ring spans `max_span` ids, the
// oldest half's remaining values move to a hash map, so memory stays bounded by
// the values held, not by how far apart their ids are.
template <typename T>
class SequenceTable {
 public:
  explicit SequenceTable(std::size_t max_span = 1 << 16)
      : max_span_(std::max<std::size_t>(2, std::bit_ceil(max_span))) {}

  // Adds `value` under the next id (the first is 1) and returns the id.
  std::uint64_t Add(T value) { return Emplace(std::move(value)); }

  // Adds a T made in place from `args` under the next id; returns the id.
  template <typename... Args>
  std::uint64_t Emplace(Args&&... args) {
    if (count_ == ring_.size()) {
      if (ring_.size() < max_span_) {
        Grow();
      } else {
        MoveOldestHalfAside();
      }
    }
    const std::uint64_t id = base_ + count_;
    ring_[id & mask_].emplace(std::forward<Args>(args)...);
    ++count_;
    ++size_;
    return id;
  }

  // The value under `id`, or null if there is none (never added, or removed).
  T* Find(std::uint64_t id) {
    if (id >= base_ && id - base_ < count_) {
      auto& slot = ring_[id & mask_];
      return slot ? &*slot : nullptr;
    }
    if (aside_.empty()) return nullptr;
    auto it = aside_.find(id);
    return it == aside_.end() ? nullptr : &it->second;
  }

  // Removes the value under `id`; false if there was none.
  bool Erase(std::uint64_t id) {
    if (id >= base_ && id - base_ < count_) {
      auto& slot = ring_[id & mask_];
      if (!slot) return false;
      slot.reset();
      --size_;
      while (count_ > 0 && !ring_[base_ & mask_]) {
        ++base_;
        --count_;
      }
      return true;
    }
    if (aside_.erase(id) == 0) return false;
    --size_;
    return true;
  }

  // Values held.
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Slots in the ring (at most max_span rounded up to a power of two).
  std::size_t ring_capacity() const { return ring_.size(); }

  // Calls f(id, value) for every value, oldest ids first within the ring.
  template <typename F>
  void ForEach(F f) {
    for (auto& [id, value] : aside_) f(id, value);
    for (std::size_t i = 0; i < count_; ++i) {
      auto& slot = ring_[(base_ + i) & mask_];
      if (slot) f(base_ + i, *slot);
    }
  }

  // Removes every value; ids go on from where they were.
  void Clear() {
    for (auto& slot : ring_) slot.reset();
    base_ += count_;
    count_ = 0;
    aside_.clear();
    size_ = 0;
  }

 private:
  void Grow() {
    std::vector<std::optional<T>> bigger(std::max<std::size_t>(16, 2 * ring_.size()));
    const std::uint64_t mask = bigger.size() - 1;
    for (std::size_t i = 0; i < count_; ++i) {
      const std::uint64_t id = base_ + i;
      bigger[id & mask] = std::move(ring_[id & mask_]);
    }
    ring_ = std::move(bigger);
    mask_ = mask;
  }

  void MoveOldestHalfAside() {
    const std::size_t half = count_ / 2;
    for (std::size_t i = 0; i < half; ++i) {
      auto& slot = ring_[(base_ + i) & mask_];
      if (slot) aside_.emplace(base_ + i, std::move(*slot));
      slot.reset();
    }
    base_ += half;
    count_ -= half;
    while (count_ > 0 && !ring_[base_ & mask_]) {
      ++base_;
      --count_;
    }
  }

  const std::size_t max_span_;
  std::vector<std::optional<T>> ring_;  // size a power of two (or 0)
  std::uint64_t mask_ = 0;
  std::uint64_t base_ = 1;                       // the oldest id in the ring
  std::size_t count_ = 0;                        // ids base_ .. base_ + count_ - 1 are in the ring
  std::size_t size_ = 0;                         // values held, in the ring and aside
  absl::flat_hash_map<std::uint64_t, T> aside_;  // values moved out of the ring
};

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_SEQUENCE_TABLE_H_
