// What every unibus subcommand shares: picking the broker, reporting errors.
#ifndef UNIBUS_CLI_COMMON_H_
#define UNIBUS_CLI_COMMON_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "unibus/unibus.h"

namespace spdlog {
class logger;
}

namespace unibus::cli {

// Where the broker comes from: --url, else --broker NAME from the config file, else
// $UNIBUS_URL, else the config file's `default`, else sqlite://unibus.db.
struct BrokerFlags {
  std::string url;
  std::string broker;                  // a named entry of the config file
  std::string config = "unibus.yaml";  // used when it exists (or was given)
  bool config_given = false;
  // --any-names: BrokerOptions::portable_names = false (names only this backend accepts).
  bool any_names = false;
};

void AddBrokerFlags(CLI::App* app, BrokerFlags* flags);

// The config file: brokers by name, a default, and the topics a service uses.
struct ConfigFile {
  std::string default_broker;
  std::map<std::string, std::string> brokers;
  std::vector<std::string> topics;
};
absl::StatusOr<ConfigFile> LoadConfig(const std::string& path);

absl::StatusOr<std::string> ResolveUrl(const BrokerFlags& flags);

// The CLI's logger, made on first use: lines on stderr, level from UNIBUS_LOG_LEVEL
// (trace, debug, info, warn (default), error, critical, off; an unknown value is
// reported once and warn is used). The library logs only to the logger it is given:
// this one, through BrokerOptionsForCli(). Thread-safe.
std::shared_ptr<spdlog::logger> Logger();

// Options for every broker the CLI opens: the CLI's logger, so that the library's
// warnings (dead-letter failures, commit failures, librdkafka logs) reach the user.
// `flags.any_names` sets portable_names = false.
BrokerOptions BrokerOptionsForCli(const BrokerFlags& flags = {});

// Opens the broker the flags name (or `url`) with BrokerOptionsForCli().
absl::StatusOr<Broker> OpenBroker(const BrokerFlags& flags);
absl::StatusOr<Broker> OpenBrokerUrl(const std::string& url, const BrokerFlags& flags = {});

// Prints "unibus: <message>" on stderr and returns the exit code for `s`.
int Fail(const absl::Status& s);

// A command line CLI11 refused (an unknown flag or subcommand, a value its check
// refused, a missing option) as InvalidArgument, naming the subcommand's --help, so
// it is one line and exit code 2 like every other invalid argument.
absl::Status ParseErrorStatus(const CLI::App& app, const CLI::ParseError& e);

// Ends a subcommand with `code` (CLI11 turns it into the process exit code).
void Exit(int code);

// CLI11 validators whose error names the rule and the value, e.g.
// "--workers: must be a positive whole number (>= 1), got 0" (CLI::PositiveNumber says
// "Value 0 not in range 0.000000 to 1.797693e+308"). Help shows INT:POSITIVE etc.
//   Positive():     a whole number >= 1.
//   PositiveReal(): a number > 0 (e.g. a learning rate).
//   NonNegative():  a whole number >= 0.
//   RealIn(lo, hi, hi_open): a number in [lo, hi], or [lo, hi) when `hi_open`.
CLI::Validator Positive();
CLI::Validator PositiveReal();
CLI::Validator NonNegative();
CLI::Validator RealIn(double lo, double hi, bool hi_open);

// Parses "250ms", "10s", "5m", "7d" (absl durations plus days). InvalidArgument otherwise.
absl::StatusOr<absl::Duration> ParseDuration(const std::string& text);

// Set by SIGINT/SIGTERM; long-running subcommands poll it and stop cleanly.
bool StopRequested();
void InstallStopHandler();

// Adds --wait-for-topics to a stage (feed, classify, sink, consume): never create a
// missing topic, wait for it (topics managed elsewhere).
void AddWaitForTopicsFlag(CLI::App* app, bool* wait_only);

// Lets a stage start before the stage that publishes to its topic. Returns OK once
// `topic` exists on `broker`. A missing topic is created (Admin::CreateTopic) unless
// `wait_only`, or the backend cannot (Capabilities::admin_create_topic false, or
// CreateTopic answers PermissionDenied/Unimplemented); then the topic is looked up
// every `poll`, and `log` gets a line saying what it waits for, where, and how to
// create it, at once and then every `log_every`. A broker that does not answer
// (Unavailable, DeadlineExceeded) is waited for the same way. Blocks; returns
// Cancelled when StopRequested() comes first, another error of the broker as is.
absl::Status EnsureTopic(Broker& broker, const std::string& topic, bool wait_only,
                         const std::function<void(const std::string&)>& log,
                         absl::Duration poll = absl::Milliseconds(250),
                         absl::Duration log_every = absl::Seconds(5));

}  // namespace unibus::cli

#endif  // UNIBUS_CLI_COMMON_H_
