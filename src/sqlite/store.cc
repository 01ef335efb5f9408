#include "sqlite/store.h"

#include <filesystem>
#include <map>

#include "sqlite/db.h"

namespace unibus::sqlite_internal {

FileState::FileState() = default;
FileState::~FileState() = default;

Db* FileState::Writer(const DbConfig& config) {
  const int i = config.synchronous_full ? 1 : 0;
  if (writers_[i] == nullptr && !writer_failed_[i]) {
    auto opened = Db::OpenWriter(config, *this);
    if (opened.ok()) {
      writers_[i] = *std::move(opened);
    } else {
      writer_failed_[i] = true;  // callers write on their own connections
    }
  }
  return writers_[i].get();
}

std::shared_ptr<FileState::TopicSignal> FileState::SignalFor(std::int64_t topic_id) {
  std::lock_guard<std::mutex> lock(mu);
  auto& weak = signals_[topic_id];
  auto signal = weak.lock();
  if (!signal) {
    signal = std::make_shared<TopicSignal>();
    weak = signal;
    // Forget the signals of topics nobody waits on any more (a process that makes
    // run-scoped topics would otherwise keep one entry per topic it ever read).
    std::erase_if(signals_, [](const auto& e) { return e.second.expired(); });
  }
  return signal;
}

void FileState::NotifyCommit(std::int64_t topic_id, bool released) {
  std::shared_ptr<TopicSignal> signal;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = signals_.find(topic_id);
    if (it == signals_.end() || !(signal = it->second.lock())) return;  // nobody waits
    if (released) signal->releases.fetch_add(1, std::memory_order_relaxed);
    signal->commits.fetch_add(1, std::memory_order_relaxed);
  }
  signal->cv.notify_all();
}

std::shared_ptr<FileState> FileStateFor(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p =
      std::filesystem::weakly_canonical(std::filesystem::absolute(path, ec), ec);
  const std::string key = ec ? path : p.string();
  static std::mutex mu;
  static auto* states = new std::map<std::string, std::weak_ptr<FileState>>;
  std::lock_guard<std::mutex> lock(mu);
  auto& weak = (*states)[key];
  auto state = weak.lock();
  if (!state) {
    state = std::make_shared<FileState>();
    weak = state;
  }
  return state;
}

}  // namespace unibus::sqlite_internal
