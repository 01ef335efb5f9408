#include "cli/vision_binary.h"

#include <unistd.h>

#include <cerrno>  // errno
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace unibus::cli {

bool WantsVisionCommands(const CLI::App& app, int argc, const char* const* argv) {
  if (argc < 2) return true;
  const std::string_view first = argv[1];
  if (first == "--version") return false;
  if (first.empty() || first.front() == '-') return true;
  try {
    (void)app.get_subcommand(std::string(first));
    return false;
  } catch (const CLI::OptionNotFound&) {
    return true;
  }
}

absl::Status ExecVisionBinary(char** argv) {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot find the running binary (/proc/self/exe: ", ec.message(), "), so not ",
                     kVisionBinary, " beside it"));
  }
  const std::filesystem::path dir = exe.parent_path();
  const std::filesystem::path candidates[] = {
      dir / kVisionBinary,
      (dir / UNIBUS_CLI_LIBEXEC_FROM_BINDIR / kVisionBinary).lexically_normal()};
  std::vector<std::string> tried;
  for (const std::filesystem::path& path : candidates) {
    if (!std::filesystem::exists(path, ec)) {
      tried.push_back(absl::StrCat(path.string(), " (absent)"));
      continue;
    }
    execv(path.c_str(), argv);  // returns only on failure; then try the next place
    tried.push_back(absl::StrCat(path.string(), " (", std::strerror(errno), ")"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "cannot run ", kVisionBinary, " (looked at ", absl::StrJoin(tried, " and "),
      "): this unibus was built without LibTorch (cmake found no libtorch-dev), or only "
      "bin/unibus was installed"));
}

}  // namespace unibus::cli
