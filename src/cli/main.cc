// unibus: one command-line tool for every backend. One file per subcommand.
//
// Built twice: `unibus` (UNIBUS_CLI_MESSAGING_ONLY: the messaging subcommands, without
// LibTorch, starting in milliseconds) and `unibus-vision` (every subcommand), which
// `unibus` runs in its place for the others (src/cli/vision_binary.h).

#include <sys/prctl.h>

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/common.h"
#include "cli/subcommands.h"
#include "cli/vision_binary.h"

int main(int argc, char** argv) {
  CLI::App app{"unibus: one messaging API over Kafka, Pub/Sub and an embedded broker"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "unibus 0.1.0");
  unibus::cli::SetupMessaging(app);
#ifdef UNIBUS_CLI_MESSAGING_ONLY
  if (unibus::cli::WantsVisionCommands(app, argc, argv)) {
    const absl::Status s = unibus::cli::ExecVisionBinary(argv);  // returns only on failure
    if (argc >= 2 && argv[1][0] != '-') {
      std::vector<std::string> names;
      for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
      return unibus::cli::Fail(absl::FailedPreconditionError(absl::StrCat(
          "'", argv[1], "' is not a subcommand of this unibus (", absl::StrJoin(names, ", "),
          "; see unibus --help). If it is a model or pipeline subcommand (train, classify, "
          "pipeline, ...), those are not available: ",
          s.message())));
    }
    app.footer(
        absl::StrCat("The model and pipeline subcommands (train, classify, pipeline, ...) are not "
                     "available: ",
                     s.message()));
  }
#else
  unibus::cli::SetupVision(app);
  // The process name `unibus` runs under (pgrep -x, killall, top), not this file's.
  prctl(PR_SET_NAME, "unibus");
#endif
  // The CLI configures logging (the library never does): level from UNIBUS_LOG_LEVEL,
  // and every broker it opens gets this logger (cli/common.h).
  (void)unibus::cli::Logger();
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    return unibus::cli::Fail(unibus::cli::ParseErrorStatus(app, e));
  }
  return 0;
}
