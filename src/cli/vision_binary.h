// The model and pipeline subcommands (train, classify, pipeline, ...) live in a second
// binary, unibus-vision, that links LibTorch; `unibus` itself does not. Loading
// LibTorch and running its static initialisers cost about 1 s of CPU per process
// (measured: `unibus topics list` spent 99 % of its samples in the dynamic loader and
// LibTorch's operator registration, 1.1 s in all; 0.08 s without it), which every
// messaging command, and every script or test that calls one, paid. `unibus` replaces
// itself (execv, same PID, same arguments) with unibus-vision for any subcommand it
// does not have, and for the full help.
//
// Two processes' worth of code, not a plugin: the library is linked statically into
// both binaries (unibus_internal), and two copies in one process would register its
// protobuf descriptors twice (a fatal error) and split its state.
#ifndef UNIBUS_CLI_VISION_BINARY_H_
#define UNIBUS_CLI_VISION_BINARY_H_

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace unibus::cli {

inline constexpr char kVisionBinary[] = "unibus-vision";

// Whether this command line is for unibus-vision: no subcommand, a top-level option
// other than --version (the full help), or a first word that is not one of `app`'s
// (messaging) subcommands.
bool WantsVisionCommands(const CLI::App& app, int argc, const char* const* argv);

// Replaces this process with unibus-vision, run with `argv` as given. It is looked for
// next to the running binary (the build tree) and then in <libexecdir> (installed,
// found relative to <bindir>). Returns only if neither runs: FailedPrecondition naming
// each path and why (absent, or execv's error).
absl::Status ExecVisionBinary(char** argv);

}  // namespace unibus::cli

#endif  // UNIBUS_CLI_VISION_BINARY_H_
