#include "cli/model_path.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace unibus::cli {
namespace {

constexpr char kModelFile[] = "fashion_cnn.pt";

// <datadir>/unibus relative to the directory of the binary that runs the model
// (unibus-vision, in <libexecdir>), from CMake's install directories.
#ifndef UNIBUS_MODEL_DIR_FROM_BINARY
#define UNIBUS_MODEL_DIR_FROM_BINARY "../share/unibus"
#endif

}  // namespace

std::vector<std::string> DefaultModelPlaces() {
  std::vector<std::string> places;
  if (const char* env = std::getenv("UNIBUS_MODEL"); env != nullptr && *env != '\0')
    places.emplace_back(env);
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    places.push_back(
        (exe.parent_path() / UNIBUS_MODEL_DIR_FROM_BINARY / kModelFile).lexically_normal());
  }
#if defined(UNIBUS_SOURCE_DIR) && defined(UNIBUS_BINARY_DIR)
  // Only a binary still in its build tree looks in its source tree: an installed one
  // must not depend on (or be fooled by) the checkout it was built from.
  if (!ec && absl::StartsWith(exe.string(), absl::StrCat(UNIBUS_BINARY_DIR, "/")))
    places.push_back(absl::StrCat(UNIBUS_SOURCE_DIR, "/models/", kModelFile));
#endif
  places.push_back(absl::StrCat("models/", kModelFile));
  return places;
}

absl::StatusOr<std::string> FindModel(const std::string& given,
                                      const std::vector<std::string>& places) {
  std::error_code ec;
  if (!given.empty()) {
    if (std::filesystem::is_regular_file(given, ec)) return given;
    return absl::NotFoundError(absl::StrCat("model file '", given, "' (--model) does not exist"));
  }
  for (const auto& p : places) {
    if (std::filesystem::is_regular_file(p, ec)) return p;
  }
  return absl::NotFoundError(absl::StrCat(
      "no model file found; looked in: ", absl::StrJoin(places, ", "),
      ". Pass --model PATH, set UNIBUS_MODEL, or install unibus (cmake --install puts the "
      "model under share/unibus/)"));
}

}  // namespace unibus::cli
