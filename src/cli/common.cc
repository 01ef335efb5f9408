#include "cli/common.h"

#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/duration.h"
#include "yaml-cpp/yaml.h"

namespace unibus::cli {
namespace {
volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

// A whole number >= `min`; `rule` says so in the error.
CLI::Validator WholeAtLeast(std::int64_t min, const char* rule, const char* name) {
  return CLI::Validator(
      [min, rule](std::string& text) -> std::string {
        std::int64_t v = 0;
        if (absl::SimpleAtoi(text, &v) && v >= min) return "";
        return absl::StrCat(rule, ", got ", text);
      },
      name);
}
}  // namespace

CLI::Validator Positive() {
  return WholeAtLeast(1, "must be a positive whole number (>= 1)", "POSITIVE");
}

CLI::Validator NonNegative() {
  return WholeAtLeast(0, "must be a whole number >= 0", "NONNEGATIVE");
}

CLI::Validator PositiveReal() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double v = 0;
        if (absl::SimpleAtod(text, &v) && v > 0 && std::isfinite(v)) return "";
        return absl::StrCat("must be a positive number (> 0), got ", text);
      },
      "POSITIVE");
}

CLI::Validator RealIn(double lo, double hi, bool hi_open) {
  return CLI::Validator(
      [lo, hi, hi_open](std::string& text) -> std::string {
        double v = 0;
        if (absl::SimpleAtod(text, &v) && v >= lo && (hi_open ? v < hi : v <= hi)) return "";
        return absl::StrCat("must be a number in [", lo, ", ", hi, hi_open ? ")" : "]", ", got ",
                            text);
      },
      "REAL");
}

void AddBrokerFlags(CLI::App* app, BrokerFlags* flags) {
  app->add_option("--url", flags->url,
                  "broker URL: sqlite://PATH, mem://, kafka://HOST:PORT, pubsub://PROJECT")
      ->check(CLI::Validator(
          [](const std::string& url) -> std::string {
            return url.empty() ? "is empty; give a broker URL (e.g. sqlite://unibus.db) or leave "
                                 "--url out for the default (UNIBUS_URL, unibus.yaml, "
                                 "sqlite://unibus.db)"
                               : "";
          },
          "URL"));
  app->add_option("--broker", flags->broker, "a broker named in the config file");
  app->add_option_function<std::string>(
      "--config",
      [flags](const std::string& p) {
        flags->config = p;
        flags->config_given = true;
      },
      "config file listing brokers and topics (default ./unibus.yaml when present)");
  app->add_flag("--any-names", flags->any_names,
                "create topics and subscriptions under any name this backend accepts (default: "
                "only portable names, 3-249 letters, digits, '.', '_', '-' starting with a "
                "letter, valid on every backend)");
}

absl::StatusOr<std::string> ResolveUrl(const BrokerFlags& flags) {
  if (!flags.url.empty()) return flags.url;
  std::optional<ConfigFile> cfg;
  if (flags.config_given || std::filesystem::exists(flags.config)) {
    auto c = LoadConfig(flags.config);
    if (!c.ok()) return c.status();
    cfg = *std::move(c);
  }
  if (!flags.broker.empty()) {
    if (!cfg) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--broker ", flags.broker, " needs a config file; '", flags.config, "' does not exist"));
    }
    auto it = cfg->brokers.find(flags.broker);
    if (it == cfg->brokers.end()) {
      return absl::NotFoundError(
          absl::StrCat("broker '", flags.broker, "' is not listed in ", flags.config));
    }
    return it->second;
  }
  if (const char* env = std::getenv("UNIBUS_URL"); env != nullptr && *env != '\0')
    return std::string(env);
  if (cfg && !cfg->default_broker.empty()) return cfg->brokers.at(cfg->default_broker);
  return DefaultUrl();
}

int Fail(const absl::Status& s) {
  std::cerr << "unibus: " << absl::StatusCodeToString(s.code()) << ": " << s.message() << std::endl;
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      return 2;
    case absl::StatusCode::kNotFound:
      return 3;
    case absl::StatusCode::kAlreadyExists:
      return 4;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return 5;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return 6;
    default:
      return 1;
  }
}

absl::Status ParseErrorStatus(const CLI::App& app, const CLI::ParseError& e) {
  // The deepest subcommand given: its --help is the one to read.
  const CLI::App* cmd = &app;
  std::string where = "unibus";
  while (!cmd->get_subcommands().empty()) {
    cmd = cmd->get_subcommands().front();
    absl::StrAppend(&where, " ", cmd->get_name());
  }
  std::string what = e.what();
  // `unibus topics lst`: CLI11 says only "A subcommand is required".
  if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr &&
      absl::StrContains(what, "subcommand") && !cmd->get_subcommands({}).empty()) {
    std::vector<std::string> names;
    for (const CLI::App* sub : cmd->get_subcommands({})) names.push_back(sub->get_name());
    const std::vector<std::string> rest = cmd->remaining();
    const std::string one_of = absl::StrCat("one of ", absl::StrJoin(names, ", "));
    if (rest.empty()) {
      what = absl::StrCat("'", where, "' needs a subcommand: ", one_of);
    } else if (absl::StartsWith(rest.front(), "-")) {
      what = absl::StrCat("'", where, "' has no option '", rest.front(),
                          "' and needs a subcommand: ", one_of);
    } else {
      what = absl::StrCat("'", rest.front(), "' is not a subcommand of '", where, "': ", one_of);
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(what, "; see ", where, " --help"));
}

void Exit(int code) {
  if (code != 0) throw CLI::RuntimeError(code);
}

absl::StatusOr<absl::Duration> ParseDuration(const std::string& text) {
  return core_internal::ParseDuration(text);
}

bool StopRequested() { return g_stop != 0; }

void InstallStopHandler() {
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
}

void AddWaitForTopicsFlag(CLI::App* app, bool* wait_only) {
  app->add_flag("--wait-for-topics", *wait_only,
                "never create a missing topic: wait for it (default: create it where the "
                "backend can, else wait)");
}

absl::Status EnsureTopic(Broker& broker, const std::string& topic, bool wait_only,
                         const std::function<void(const std::string&)>& log, absl::Duration poll,
                         absl::Duration log_every) {
  Admin admin = broker.admin();
  bool may_create = !wait_only && broker.capabilities().admin_create_topic;
  absl::Time next_log = absl::InfinitePast();
  std::string why;  // what the last look-up or creation said
  while (!StopRequested()) {
    auto info = admin.DescribeTopic(topic);
    if (info.ok()) {
      if (next_log != absl::InfinitePast()) log(absl::StrCat("topic '", topic, "' is there now"));
      return absl::OkStatus();
    }
    const absl::StatusCode code = info.status().code();
    if (code != absl::StatusCode::kNotFound && code != absl::StatusCode::kUnavailable &&
        code != absl::StatusCode::kDeadlineExceeded) {
      return info.status();
    }
    why = std::string(info.status().message());
    if (code == absl::StatusCode::kNotFound && may_create) {
      absl::Status s = admin.CreateTopic(topic);
      if (s.ok() || absl::IsAlreadyExists(s)) continue;  // look it up again
      if (absl::IsPermissionDenied(s) || absl::IsUnimplemented(s)) {
        may_create = false;
        why = absl::StrCat("cannot create it here: ", s.message());
      } else if (!absl::IsUnavailable(s) && !absl::IsDeadlineExceeded(s)) {
        return s;
      }
    }
    if (absl::Now() >= next_log) {
      log(absl::StrCat("waiting for topic '", topic, "' on ", broker.url(),
                       " (create it with: unibus topics create ", topic, " --url ", broker.url(),
                       "); ", why));
      next_log = absl::Now() + log_every;
    }
    absl::SleepFor(poll);
  }
  return absl::CancelledError(absl::StrCat("stopped while waiting for topic '", topic, "'"));
}

}  // namespace unibus::cli
