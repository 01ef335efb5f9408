// sqlite:// in the conformance suite: a fresh database file per test, in a
// directory made for the run and removed after.
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "conformance/backend.h"

namespace unibus::conformance {
namespace {

class SqliteEnv : public BackendEnv {
 public:
  std::string name() const override { return "sqlite"; }

  absl::Status Start() override {
    std::error_code ec;
    dir_ = std::filesystem::temp_directory_path(ec) /
           absl::StrCat("unibus-conformance-sqlite-", getpid());
    if (!ec) std::filesystem::create_directories(dir_, ec);
    if (ec)
      return absl::UnavailableError(absl::StrCat("cannot make a temp directory: ", ec.message()));
    return absl::OkStatus();
  }

  void Stop() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string Url() override {
    return absl::StrCat("sqlite://", (dir_ / absl::StrCat("t", next_++, ".db")).string());
  }

  // The file outlives every connection, so a "restart" is simply reopening it,
  // which RestartLosesNothing does itself.
  absl::Status Restart() override { return absl::OkStatus(); }

 private:
  std::filesystem::path dir_;
  std::atomic<int> next_{0};
};

}  // namespace

UNIBUS_REGISTER_BACKEND_ENV("sqlite", SqliteEnv);

}  // namespace unibus::conformance
