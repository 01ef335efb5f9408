// Per-ordering-key serialization for the dispatcher (DESIGN.md section 3.6).
#ifndef UNIBUS_CORE_KEY_QUEUE_H_
#define UNIBUS_CORE_KEY_QUEUE_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"

namespace unibus::core_internal {

// Holds back the later messages of an ordering key while one of its messages is
// active (handed out, in a handler, waiting for redelivery or being dead-lettered),
// and releases them one at a time in arrival order. Messages are named by the
// dispatcher's ids. A plain value: not thread-safe (the dispatcher owns it under
// its lock).
class KeyQueue {
 public:
  // Message `id` with ordering key `key` arrived. Returns true when it may be handed
  // out now: it has no key, or its key has no active message (`id` becomes the
  // key's active message). Returns false when it waits behind the active one.
  bool Admit(const std::string& key, std::uint64_t id);

  // The active message of `key` is done with its key (settled, or dead-lettering
  // gave up on it). Returns the key's next waiting message, which becomes active,
  // or nullopt when none waits (the key is then idle). Nothing for an empty or
  // idle key.
  std::optional<std::uint64_t> Release(const std::string& key);

  // Keys with an active message.
  std::size_t active_keys() const { return waiting_.size(); }

  // Forgets every key (at shutdown).
  void Clear() { waiting_.clear(); }

 private:
  // An active key -> the ids waiting behind its active message, oldest first.
  absl::flat_hash_map<std::string, std::deque<std::uint64_t>> waiting_;
};

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_KEY_QUEUE_H_
