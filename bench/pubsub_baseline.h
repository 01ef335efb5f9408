// The official Node.js Pub/Sub client (@google-cloud/pubsub, pinned in
// bench/pubsub-node) as the baseline `unibus bench` runs beside pubsub://, in the
// same run and against the same emulator: bench/pubsub-node/bench.js publishes the
// same messages in batches of the same size, then receives and acks them all.
#ifndef UNIBUS_BENCH_PUBSUB_BASELINE_H_
#define UNIBUS_BENCH_PUBSUB_BASELINE_H_

#include <string>

#include "absl/status/statusor.h"
#include "bench/baselines.h"
#include "core/url.h"

namespace unibus::bench {

struct PubsubBaselineConfig {
  std::string emulator;  // HOST:PORT of the Pub/Sub emulator
  std::string project;   // Google Cloud project ID the emulator sees
  // Create the subscription with message ordering enabled, as unibus does unless
  // its URL says ordering=off: the emulator's ordered path is much slower, so the
  // two sides must match.
  bool ordered = true;
  // The directory holding bench.js and package.json; empty: the UNIBUS_PUBSUB_NODE_DIR
  // environment variable, else the source tree's bench/pubsub-node.
  std::string node_dir;
};

// The config for a pubsub:// URL: the emulator from its `emulator` parameter or
// PUBSUB_EMULATOR_HOST (FailedPrecondition when neither is set: the baseline only
// runs against the emulator), ordering from its `ordering` parameter.
absl::StatusOr<PubsubBaselineConfig> PubsubBaselineConfigFor(const core_internal::Url& url);

// Parses bench.js's output line {"publish_per_s": X, "consume_per_s": Y}.
absl::StatusOr<BaselineResult> ParsePubsubBaselineOutput(const std::string& out);

// Runs `node bench.js PROJECT N SIZE BATCH ORDERED` with PUBSUB_EMULATOR_HOST set,
// after `npm ci` when node_modules is missing. FailedPrecondition naming what to
// install when node or npm is missing; Internal with the script's stderr when it
// fails.
absl::StatusOr<BaselineResult> RunPubsubBaseline(const PubsubBaselineConfig& config,
                                                 const BaselineParams& params);

}  // namespace unibus::bench

#endif  // UNIBUS_BENCH_PUBSUB_BASELINE_H_
