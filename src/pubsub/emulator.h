// Google's Pub/Sub emulator as a child process, for tests and benchmarks.
#ifndef UNIBUS_PUBSUB_EMULATOR_H_
#define UNIBUS_PUBSUB_EMULATOR_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace unibus::pubsub_internal {

// Runs the emulator's Java server directly (one PID to stop) on a free loopback
// port, with its output in a log file. The binary is $UNIBUS_PUBSUB_EMULATOR, else
// the one google-cloud-cli-pubsub-emulator installs. Not thread-safe.
class Emulator {
 public:
  // Starts the emulator and waits until it accepts connections (up to
  // `startup_timeout`). NotFound, saying what to install, when the emulator or
  // Java is missing; Unavailable with the log's tail when it does not come up.
  static absl::StatusOr<std::unique_ptr<Emulator>> Start(
      absl::Duration startup_timeout = absl::Seconds(60));

  // Stops the emulator (SIGTERM, then SIGKILL after 5 s) and waits for it.
  ~Emulator();

  // "127.0.0.1:PORT", for PUBSUB_EMULATOR_HOST.
  std::string host_port() const;
  // A unibus URL for `project` on this emulator: pubsub://PROJECT?emulator=HOST:PORT.
  std::string Url(const std::string& project) const;

  // Kills the emulator (SIGKILL: it loses everything) and starts a new one on the
  // same port. Blocks until it answers.
  absl::Status Restart();
  // Kills the emulator now; Restart() brings it back.
  void Kill();

 private:
  Emulator(std::string binary, int port, std::string log);
  absl::Status Launch(absl::Duration startup_timeout);

  const std::string binary_;
  const int port_;
  const std::string log_;
  pid_t pid_ = -1;
};

}  // namespace unibus::pubsub_internal

#endif  // UNIBUS_PUBSUB_EMULATOR_H_
