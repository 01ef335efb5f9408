#include "sqlite/store.h"

#include <filesystem>
#include <map>

#include "sqlite/db.h"

namespace unibus::sqlite_internal {

FileState::FileState() = default;
FileState::~FileState() = default;

Db* FileState::Writer(const DbConfig& config) {
  std::unique_ptr<Db>& w = writers_[config.synchronous_full ? 1 : 0];
  if (w == nullptr) {
    auto opened = Db::OpenWriter(config, *this);
    if (!opened.ok()) return nullptr;  // the caller writes on its own connection
    w = *std::move(opened);
  }
  return w.get();
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
