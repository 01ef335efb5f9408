// unibus: one command-line tool for every backend. One file per subcommand.

#include "CLI/CLI.hpp"
#include "cli/common.h"
#include "cli/subcommands.h"

int main(int argc, char** argv) {
  // The CLI configures logging (the library never does): level from UNIBUS_LOG_LEVEL,
  // and every broker it opens gets this logger (cli/common.h).
  (void)unibus::cli::Logger();

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
