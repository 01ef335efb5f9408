#include "kafka/real_cluster.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace unibus::kafka_testing {
namespace {

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs argv through the shell; returns (exit status, stdout, stderr).
struct RunResult {
  int status = -1;
  std::string out, err;
};
RunResult Run(const std::vector<std::string>& argv, const std::string& err_file) {
  std::vector<std::string> quoted;
  for (const auto& a : argv) quoted.push_back(Quote(a));
  const std::string cmd = absl::StrCat(absl::StrJoin(quoted, " "), " 2>", Quote(err_file));
  RunResult r;
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) {
    r.err = "popen failed";
    return r;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) r.out.append(buf, n);
  const int st = pclose(f);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  std::remove(err_file.c_str());
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RealCluster>> RealCluster::Start(int brokers) {
  return Start(brokers, {});
}

absl::StatusOr<std::unique_ptr<RealCluster>> RealCluster::Start(
    int brokers, const std::vector<std::string>& options) {
  const char* dir = options.empty() ? getenv("UNIBUS_KAFKA_TEST_CLUSTER") : nullptr;
  if (dir != nullptr) {
    // A cluster started by hand (scripts/kafka.sh start --dir DIR), for quick reruns.
    std::unique_ptr<RealCluster> c(new RealCluster());
    c->dir_ = std::filesystem::path(dir).parent_path();
    auto out = c->Script({"status", "--dir", dir});
    c->dir_.clear();  // not ours: never stopped or removed
    if (!out.ok()) return out.status();
    for (absl::string_view line : absl::StrSplit(*out, '\n')) {
      if (absl::ConsumePrefix(&line, "bootstrap: ")) c->bootstrap_ = std::string(line);
    }
    c->brokers_ = brokers;
    c->description_ = absl::StrCat("the cluster in ", dir,
                                   " (UNIBUS_KAFKA_TEST_CLUSTER), bootstrap ", c->bootstrap_);
    return c;
  }
  char tmpl[] = "/tmp/unibus-kafka-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
  std::unique_ptr<RealCluster> c(new RealCluster());
  c->dir_ = tmpl;
  c->brokers_ = brokers;
  std::vector<std::string> args = {
      "start",       "--brokers",           absl::StrCat(brokers), "--dir", c->dir_ + "/cluster",
      "--owner-pid", absl::StrCat(getpid())};
  args.insert(args.end(), options.begin(), options.end());
  auto out = c->Script(args);
  if (!out.ok()) {
    // The message names the nodes' logs: keep them (the destructor would remove the
    // directory).
    (void)c->Script({"stop", "--dir", c->dir_ + "/cluster", "--kill"});
    const std::string kept = c->dir_;
    c->dir_.clear();
    return absl::Status(
        out.status().code(),
        absl::StrCat("could not start a real Kafka cluster with ", UNIBUS_KAFKA_SCRIPT, ": ",
                     out.status().message(), " (logs kept in ", kept, ")"));
  }
  std::string first;
  for (absl::string_view line : absl::StrSplit(*out, '\n')) {
    if (first.empty()) first = std::string(absl::StripAsciiWhitespace(line));
    if (absl::ConsumePrefix(&line, "bootstrap: ")) c->bootstrap_ = std::string(line);
  }
  if (c->bootstrap_.empty()) {
    return absl::InternalError(absl::StrCat(UNIBUS_KAFKA_SCRIPT, " printed no bootstrap: ", *out));
  }
  c->description_ = absl::StrCat(first, ", bootstrap ", c->bootstrap_);
  c->start_output_ = *out;
  return c;
}

RealCluster::~RealCluster() {
  if (dir_.empty()) return;
  (void)Script({"stop", "--dir", dir_ + "/cluster", "--kill"});
  if (getenv("UNIBUS_KAFKA_KEEP") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

absl::StatusOr<std::string> RealCluster::Script(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {UNIBUS_KAFKA_SCRIPT};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = Run(argv, absl::StrCat(dir_, "/script.err"));
  if (r.status != 0) {
    return absl::UnavailableError(
        absl::StrCat(absl::StripAsciiWhitespace(r.err), " (exit status ", r.status, ")"));
  }
  if (!r.err.empty()) std::fprintf(stderr, "%s", r.err.c_str());  // e.g. a stop's SIGKILL
  return r.out;
}

std::string RealCluster::LogDigest(int lines) const {
  std::string out;
  for (int node = 1; node <= brokers_; ++node) {
    for (const char* name : {"kafka.log.1", "kafka.log"}) {
      const std::string path = absl::StrCat(dir_, "/cluster/node-", node, "/", name);
      std::ifstream f(path);
      if (!f) continue;
      std::deque<std::string> kept;
      for (std::string line; std::getline(f, line);) {
        if (!absl::StrContains(line, "] WARN ") && !absl::StrContains(line, "] ERROR ")) continue;
        kept.push_back(std::move(line));
        if (static_cast<int>(kept.size()) > lines) kept.pop_front();
      }
      absl::StrAppend(&out, "--- ", path, ": last ", kept.size(), " WARN/ERROR line(s)\n");
      for (const auto& line : kept) absl::StrAppend(&out, line, "\n");
    }
  }
  return out;
}

int RealCluster::Pid(int node) const {
  std::ifstream f(absl::StrCat(dir_, "/cluster/node-", node, "/pid"));
  int pid = -1;
  if (!(f >> pid) || pid <= 0 || kill(pid, 0) != 0) return -1;
  return pid;
}

absl::Status RealCluster::Kill(int node) {
  const int pid = Pid(node);
  if (pid < 0) return absl::FailedPreconditionError(absl::StrCat("node ", node, " is not running"));
  if (kill(pid, SIGKILL) != 0) return absl::InternalError(absl::StrCat("kill ", pid, " failed"));
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (Pid(node) >= 0 && absl::Now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Pid(node) < 0
             ? absl::OkStatus()
             : absl::DeadlineExceededError(absl::StrCat("node ", node, " outlived SIGKILL"));
}

absl::Status RealCluster::Stop(int node) {
  return Script({"stop", "--dir", dir_ + "/cluster", "--node", absl::StrCat(node)}).status();
}

absl::Status RealCluster::StopAll() {
  return Script({"stop", "--dir", dir_ + "/cluster"}).status();
}

absl::Status RealCluster::StartAll() {
  return Script({"start", "--dir", dir_ + "/cluster", "--owner-pid", absl::StrCat(getpid())})
      .status();
}

absl::StatusOr<std::string> RealCluster::Tool(const std::string& main_class,
                                              const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {UNIBUS_KAFKA_SCRIPT, "tool", main_class};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = Run(argv, absl::StrCat(dir_, "/tool.err"));
  if (r.status != 0) {
    return absl::InternalError(absl::StrCat(main_class, " ", absl::StrJoin(args, " "),
                                            " exited with ", r.status, ": ", r.err, r.out));
  }
  return r.out;
}

}  // namespace unibus::kafka_testing
