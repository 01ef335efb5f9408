#include "core/key_queue.h"

#include <utility>

namespace unibus::core_internal {

bool KeyQueue::Admit(const std::string& key, std::uint64_t id) {
  if (key.empty()) return true;
  auto [it, inserted] = waiting_.try_emplace(key);
  if (inserted) return true;
  it->second.push_back(id);
  return false;
}

std::optional<std::uint64_t> KeyQueue::Release(const std::string& key) {
  if (key.empty()) return std::nullopt;
  auto it = waiting_.find(key);
  if (it == waiting_.end()) return std::nullopt;
  if (it->second.empty()) {
    waiting_.erase(it);
    return std::nullopt;
  }
  const std::uint64_t next = it->second.front();
  it->second.pop_front();
  return next;
}

}  // namespace unibus::core_internal
