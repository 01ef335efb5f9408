#include "bench/pubsub_baseline.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace unibus::bench {
namespace {

#ifndef UNIBUS_PUBSUB_NODE_DIR
#define UNIBUS_PUBSUB_NODE_DIR "bench/pubsub-node"
#endif

constexpr int kExecFailed = 127;

struct ProcessResult {
  int exit_code = -1;  // -1: killed by a signal
  std::string out;     // stdout
  std::string err;     // stderr (last few KB)
};

std::string ReadTail(const std::string& path, std::size_t max) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  if (s.size() > max) s = s.substr(s.size() - max);
  return std::string(absl::StripAsciiWhitespace(s));
}

// Runs argv[0] (looked up in PATH) in `dir` with `env` added to the environment;
// stdout is captured, stderr goes to a scratch file (no pipe to fill up).
absl::StatusOr<ProcessResult> Run(const std::vector<std::string>& argv, const std::string& dir,
                                  const std::vector<std::pair<std::string, std::string>>& env) {
  char err_path[] = "/tmp/unibus-pubsub-baseline-XXXXXX";
  const int err_fd = mkstemp(err_path);
  if (err_fd < 0)
    return absl::InternalError(
        absl::StrCat("cannot create a scratch file: ", std::strerror(errno)));
  int out_pipe[2];
  if (pipe(out_pipe) != 0) {
    close(err_fd);
    unlink(err_path);
    return absl::InternalError(absl::StrCat("pipe failed: ", std::strerror(errno)));
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(err_fd);
    close(out_pipe[0]);
    close(out_pipe[1]);
    unlink(err_path);
    return absl::InternalError(absl::StrCat("fork failed: ", std::strerror(errno)));
  }
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    close(out_pipe[0]);
    close(out_pipe[1]);
    close(err_fd);
    if (chdir(dir.c_str()) != 0) _exit(kExecFailed - 1);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    execvp(args[0], args.data());
    _exit(kExecFailed);
  }
  close(out_pipe[1]);
  close(err_fd);
  ProcessResult r;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(out_pipe[0], buf, sizeof buf);
    if (n > 0) {
      r.out.append(buf, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  close(out_pipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = ReadTail(err_path, 4000);
  unlink(err_path);
  return r;
}

bool IsDir(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string NodeDir(const PubsubBaselineConfig& c) {
  if (!c.node_dir.empty()) return c.node_dir;
  const char* env = std::getenv("UNIBUS_PUBSUB_NODE_DIR");
  if (env != nullptr && *env != '\0') return env;
  return UNIBUS_PUBSUB_NODE_DIR;
}

}  // namespace

absl::StatusOr<PubsubBaselineConfig> PubsubBaselineConfigFor(const core_internal::Url& url) {
  PubsubBaselineConfig c;
  c.project = url.body;
  if (auto it = url.query.find("emulator"); it != url.query.end()) {
    c.emulator = it->second;
  } else if (const char* env = std::getenv("PUBSUB_EMULATOR_HOST");
             env != nullptr && *env != '\0') {
    c.emulator = env;
  } else {
    return absl::FailedPreconditionError(
        absl::StrCat("the Node.js baseline for ", url.original,
                     " runs against the Pub/Sub emulator only: add ?emulator=HOST:PORT or set "
                     "PUBSUB_EMULATOR_HOST, "
                     "or pass --no-baseline"));
  }
  if (auto it = url.query.find("ordering"); it != url.query.end()) {
    c.ordered = !(it->second == "off" || it->second == "false" || it->second == "0");
  }
  return c;
}

absl::StatusOr<BaselineResult> ParsePubsubBaselineOutput(const std::string& out) {
  // The result is the last non-empty line (npm or the client may log before it).
  std::string line;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) {
    if (!absl::StripAsciiWhitespace(l).empty()) line = l;
  }
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("publish_per_s") ||
      !j.contains("consume_per_s") || !j["publish_per_s"].is_number() ||
      !j["consume_per_s"].is_number()) {
    return absl::InternalError(
        absl::StrCat("bench/pubsub-node/bench.js printed no {\"publish_per_s\": X, "
                     "\"consume_per_s\": Y} line; its output was: '",
                     std::string(absl::StripAsciiWhitespace(out)), "'"));
  }
  BaselineResult r{.name = "node-@google-cloud/pubsub"};
  r.publish_per_s = j["publish_per_s"].get<double>();
  r.consume_per_s = j["consume_per_s"].get<double>();
  if (!(r.publish_per_s > 0) || !(r.consume_per_s > 0)) {
    return absl::InternalError(
        absl::StrCat("bench/pubsub-node/bench.js reported non-positive rates: ", line));
  }
  return r;
}

absl::StatusOr<BaselineResult> RunPubsubBaseline(const PubsubBaselineConfig& c,
                                                 const BaselineParams& p) {
  const std::string dir = NodeDir(c);
  if (!IsDir(dir)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the Node.js baseline's directory ", dir,
                     " does not exist; set UNIBUS_PUBSUB_NODE_DIR to the "
                     "checkout's bench/pubsub-node, or pass --no-baseline"));
  }
  if (!IsDir(dir + "/node_modules")) {
    // package-lock.json pins the client; npm ci installs exactly that.
    auto npm = Run({"npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"}, dir, {});
    if (!npm.ok()) return npm.status();
    if (npm->exit_code == kExecFailed) {
      return absl::FailedPreconditionError(
          "npm is not installed (the Pub/Sub baseline needs Node.js and npm: apt-get install "
          "nodejs npm), "
          "or pass --no-baseline");
    }
    if (npm->exit_code != 0) {
      return absl::InternalError(
          absl::StrCat("npm ci in ", dir, " failed (exit ", npm->exit_code, "): ", npm->err));
    }
  }
  const std::vector<std::string> argv = {"node",
                                         "bench.js",
                                         c.project,
                                         absl::StrCat(p.messages),
                                         absl::StrCat(p.size),
                                         absl::StrCat(p.batch),
                                         c.ordered ? "1" : "0"};
  auto run = Run(argv, dir, {{"PUBSUB_EMULATOR_HOST", c.emulator}});
  if (!run.ok()) return run.status();
  if (run->exit_code == kExecFailed) {
    return absl::FailedPreconditionError(
        "node is not installed (the Pub/Sub baseline needs Node.js: apt-get install nodejs), or "
        "pass --no-baseline");
  }
  if (run->exit_code != 0) {
    return absl::InternalError(absl::StrCat("`", absl::StrJoin(argv, " "), "` in ", dir,
                                            " against the emulator at ", c.emulator,
                                            " failed (exit ", run->exit_code, "): ", run->err));
  }
  return ParsePubsubBaselineOutput(run->out);
}

}  // namespace unibus::bench
