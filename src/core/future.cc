#include "unibus/future.h"

#include <cstdint>

namespace unibus::internal {

WaitSlot& WaitSlotFor(const void* state) {
  constexpr std::uintptr_t kSlots = 64;
  // Never destroyed: a library thread may set a result during static destruction.
  static WaitSlot* const slots = new WaitSlot[kSlots];
  // Heap blocks are at least 16 bytes apart; the low bits carry nothing.
  return slots[(reinterpret_cast<std::uintptr_t>(state) >> 4) % kSlots];
}

}  // namespace unibus::internal
