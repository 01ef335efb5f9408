// How a backend plugs into the conformance suite: one BackendEnv per backend,
// registered by a file in tests/conformance/ (e.g. kafka_env.cc) with
// UNIBUS_REGISTER_BACKEND_ENV. The suite runs every test against every env.
#ifndef UNIBUS_TESTS_CONFORMANCE_BACKEND_H_
#define UNIBUS_TESTS_CONFORMANCE_BACKEND_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "unibus/unibus.h"

namespace unibus::conformance {

// A broker the suite can talk to: started for the suite, stopped after.
class BackendEnv {
 public:
  virtual ~BackendEnv() = default;
  virtual std::string name() const = 0;  // "mem", "sqlite", "kafka", "pubsub"

  // Starts the broker (a mock cluster, an emulator, a temp file...). Returns the
  // reason when it cannot run here (e.g. "Pub/Sub emulator not installed"); the
  // suite then reports every test of this env as skipped with that reason.
  virtual absl::Status Start() = 0;
  // True when a failed Start() fails the tests instead of skipping them: the env
  // brings its broker itself (Kafka from Maven jars), so it must be able to start.
  virtual bool required() const { return false; }
  virtual void Stop() = 0;

  // A URL for a fresh, isolated namespace (new topics/subscriptions each test may
  // create without clashing). Called once per test.
  virtual std::string Url() = 0;

  // Subscriber options this backend needs in tests (e.g. short timeouts).
  virtual SubscriberOptions TuneSubscriber(SubscriberOptions o) const { return o; }

  // Creates a topic ready for use (on Kafka, with the mock API when Admin cannot).
  virtual absl::Status CreateTopic(Broker& broker, const std::string& topic, int partitions) {
    return broker.admin().CreateTopic(TopicConfig{.name = topic, .partitions = partitions});
  }

  // Restarts the broker process keeping (or, per capabilities, losing) its data;
  // Unimplemented where it makes no sense (mem).
  virtual absl::Status Restart() { return absl::UnimplementedError("restart"); }
};

using BackendEnvFactory = std::function<std::unique_ptr<BackendEnv>()>;

// Registry of envs; filled at static-init time by UNIBUS_REGISTER_BACKEND_ENV.
std::vector<std::pair<std::string, BackendEnvFactory>>& BackendEnvs();

struct BackendEnvRegistrar {
  BackendEnvRegistrar(std::string name, BackendEnvFactory f) {
    BackendEnvs().emplace_back(std::move(name), std::move(f));
  }
};

// The env registered as `name`, started on first use and shared by every test of
// the binary (stopped at exit). `*status` is why it could not start, if it could not.
BackendEnv* GetEnv(const std::string& name, absl::Status* status);

// The names of the registered envs, to instantiate a suite over.
std::vector<std::string> EnvNames();

#define UNIBUS_REGISTER_BACKEND_ENV(name, type)                       \
  static ::unibus::conformance::BackendEnvRegistrar registrar_##type( \
      name, [] { return std::unique_ptr<::unibus::conformance::BackendEnv>(new type()); })

}  // namespace unibus::conformance

#endif  // UNIBUS_TESTS_CONFORMANCE_BACKEND_H_
