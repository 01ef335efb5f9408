// --p99-target-ms on classify and pipeline (and bench-latency): see
// pipeline::LatencyTarget for the rule.
#ifndef UNIBUS_CLI_LATENCY_FLAGS_H_
#define UNIBUS_CLI_LATENCY_FLAGS_H_

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "pipeline/stages.h"

namespace unibus::cli {

// Adds --p99-target-ms (milliseconds; 0, the default: off) to `cmd`.
void AddP99TargetFlag(CLI::App* cmd, double* p99_target_ms);
// With p99_target_ms > 0, gives `c` a LatencyTarget whose ceilings are c's max_batch
// and max_wait. InvalidArgument on a negative target.
absl::Status UseP99Target(double p99_target_ms, pipeline::ClassifyOptions& c);
// What the controller chose, for the end of a run ("" without a target).
std::string P99TargetSummary(const pipeline::ClassifyOptions& c);

}  // namespace unibus::cli

#endif  // UNIBUS_CLI_LATENCY_FLAGS_H_
