// unibus: one command-line tool for every backend. One file per subcommand.
#include <cstdlib>
#include <iostream>

#include "CLI/CLI.hpp"
#include "cli/subcommands.h"
#include "spdlog/cfg/helpers.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  // The CLI configures logging (the library never does): level from UNIBUS_LOG_LEVEL.
  spdlog::set_level(spdlog::level::warn);
  if (const char* level = std::getenv("UNIBUS_LOG_LEVEL")) spdlog::cfg::helpers::load_levels(level);

  CLI::App app{"unibus: one messaging API over Kafka, Pub/Sub and an embedded broker"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "unibus 0.1.0");
  unibus::cli::SetupAll(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}
