#include "pubsub/emulator.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace unibus::pubsub_internal {
namespace {

constexpr char kDefaultBinary[] =
    "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator";

bool Executable(const std::string& path) {
  return !path.empty() && access(path.c_str(), X_OK) == 0;
}

bool OnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (Executable(dir + "/" + name)) return true;
  }
  return false;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// Whether the emulator serves requests on `port`: it answers a REST request (the
// emulator serves REST beside gRPC on one port) with an HTTP status line within 2 s.
// An open port alone is not enough: on a loaded machine the JVM accepted connections
// seconds before it answered, and a client's 10 s connect timeout ran out.
bool Answers(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const timeval limit{.tv_sec = 2, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  if (ok) {
    const std::string request =
        absl::StrCat("GET /v1/projects/unibus-probe/topics HTTP/1.1\r\nHost: 127.0.0.1:", port,
                     "\r\nConnection: close\r\n\r\n");
    char reply[8] = {};
    ok = send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
             static_cast<ssize_t>(request.size()) &&
         recv(fd, reply, 5, MSG_WAITALL) == 5 && std::string(reply, 5) == "HTTP/";
  }
  close(fd);
  return ok;
}

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > 1500 ? all.substr(all.size() - 1500) : all;
}

std::string TempDir() {
  const char* t = std::getenv("TMPDIR");
  return t != nullptr && *t != '\0' ? t : "/tmp";
}

}  // namespace

absl::StatusOr<std::unique_ptr<Emulator>> Emulator::Start(absl::Duration startup_timeout) {
  const char* env = std::getenv("UNIBUS_PUBSUB_EMULATOR");
  std::string binary = env != nullptr && *env != '\0' ? env : kDefaultBinary;
  if (!Executable(binary)) {
    return absl::NotFoundError(
        absl::StrCat("Pub/Sub emulator not installed: no executable ", binary,
                     "; install the google-cloud-cli-pubsub-emulator package or set "
                     "UNIBUS_PUBSUB_EMULATOR to the cloud-pubsub-emulator script"));
  }
  const char* java_home = std::getenv("JAVA_HOME");
  if (!OnPath("java") &&
      !(java_home != nullptr && Executable(std::string(java_home) + "/bin/java"))) {
    return absl::NotFoundError(
        "Pub/Sub emulator cannot run: no `java` on PATH (install a Java runtime, e.g. "
        "default-jre-headless)");
  }
  const int port = FreePort();
  if (port <= 0) return absl::UnavailableError("no free loopback port for the Pub/Sub emulator");
  std::string log =
      absl::StrCat(TempDir(), "/unibus-pubsub-emulator-", getpid(), "-", port, ".log");
  std::unique_ptr<Emulator> e(new Emulator(binary, port, log));
  if (auto s = e->Launch(startup_timeout); !s.ok()) return s;
  return e;
}

Emulator::Emulator(std::string binary, int port, std::string log)
    : binary_(std::move(binary)), port_(port), log_(std::move(log)) {}

absl::Status Emulator::Launch(absl::Duration startup_timeout) {
  const std::string host = absl::StrCat("--host=127.0.0.1");
  const std::string port = absl::StrCat("--port=", port_);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed starting the Pub/Sub emulator");
  if (pid == 0) {
    // The launcher script execs java, so this PID becomes the Java server's.
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
    if (getppid() != parent) _exit(1);
    int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execl(binary_.c_str(), binary_.c_str(), host.c_str(), port.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  pid_ = pid;
  const absl::Time end = absl::Now() + startup_timeout;
  while (absl::Now() < end) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError(
          absl::StrCat("the Pub/Sub emulator exited while starting; its log (", log_,
                       ") ends with:\n", Tail(log_)));
    }
    if (Answers(port_)) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Kill();
  return absl::UnavailableError(absl::StrCat("the Pub/Sub emulator did not answer on ", host_port(),
                                             " within ", absl::FormatDuration(startup_timeout),
                                             "; its log (", log_, ") ends with:\n", Tail(log_)));
}

Emulator::~Emulator() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 50; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Kill();
}

void Emulator::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

absl::Status Emulator::Restart() {
  Kill();
  return Launch(absl::Seconds(60));
}

std::string Emulator::host_port() const { return absl::StrCat("127.0.0.1:", port_); }

std::string Emulator::Url(const std::string& project) const {
  return absl::StrCat("pubsub://", project, "?emulator=", host_port());
}

}  // namespace unibus::pubsub_internal
