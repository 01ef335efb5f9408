#include <atomic>

#include "absl/strings/str_cat.h"
#include "conformance/backend.h"

namespace unibus::conformance {
namespace {

class MemEnv : public BackendEnv {
 public:
  std::string name() const override { return "mem"; }
  absl::Status Start() override { return absl::OkStatus(); }
  void Stop() override {}
  std::string Url() override { return absl::StrCat("mem://conformance-", next_++); }

 private:
  std::atomic<int> next_{0};
};

}  // namespace

UNIBUS_REGISTER_BACKEND_ENV("mem", MemEnv);

}  // namespace unibus::conformance
