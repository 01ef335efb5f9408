// How the CLI opens brokers: always with its logger (level from UNIBUS_LOG_LEVEL).
// Apart from common.cc so that what else compiles common.cc (the Python extension)
// needs no spdlog.
#include <cstdlib>
#include <string_view>

#include "cli/common.h"
#include "spdlog/logger.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace unibus::cli {

std::shared_ptr<spdlog::logger> Logger() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>("unibus",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [unibus] [%l] %v");
    l->set_level(spdlog::level::warn);
    const char* env = std::getenv("UNIBUS_LOG_LEVEL");
    if (env != nullptr && *env != '\0') {
      const auto level = spdlog::level::from_str(env);
      // from_str answers "off" for a name it does not know.
      if (level != spdlog::level::off || std::string_view(env) == "off") {
        l->set_level(level);
      } else {
        l->warn(
            "UNIBUS_LOG_LEVEL='{}' is not a level; use trace, debug, info, warn, error, "
            "critical or off (logging at warn)",
            env);
      }
    }
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return logger;
}

BrokerOptions BrokerOptionsForCli(const BrokerFlags& flags) {
  BrokerOptions o;
  o.logger = Logger();
  o.portable_names = !flags.any_names;
  return o;
}

absl::StatusOr<Broker> OpenBrokerUrl(const std::string& url, const BrokerFlags& flags) {
  auto b = Broker::Open(url, BrokerOptionsForCli(flags));
  if (b.ok()) Logger()->debug("opened {} ({} backend)", b->url(), b->capabilities().backend);
  return b;
}

absl::StatusOr<Broker> OpenBroker(const BrokerFlags& flags) {
  auto url = ResolveUrl(flags);
  if (!url.ok()) return url.status();
  return OpenBrokerUrl(*url, flags);
}

}  // namespace unibus::cli
