// Every subcommand's setup function; each lives in its own file.
#ifndef UNIBUS_CLI_SUBCOMMANDS_H_
#define UNIBUS_CLI_SUBCOMMANDS_H_

#include "CLI/CLI.hpp"

namespace unibus::cli {

void setup_topics(CLI::App& app);
void setup_subscriptions(CLI::App& app);
void setup_publish(CLI::App& app);
void setup_consume(CLI::App& app);
void setup_dead_letters(CLI::App& app);
void setup_bench(CLI::App& app);
#ifdef UNIBUS_CLI_KAFKA_MOCK
void setup_kafka_mock(CLI::App& app);
#endif

// The messaging subcommands, in the `unibus` binary itself.
inline void SetupMessaging(CLI::App& app) {
  setup_topics(app);
  setup_subscriptions(app);
  setup_publish(app);
  setup_consume(app);
  setup_dead_letters(app);
  setup_bench(app);
#ifdef UNIBUS_CLI_KAFKA_MOCK
  setup_kafka_mock(app);
#endif
}

// The model and pipeline subcommands, which link LibTorch: only in the unibus-vision
// binary, which `unibus` runs for them (src/cli/vision_binary.h).
void setup_train(CLI::App& app);
void setup_bench_model(CLI::App& app);
void setup_bench_pipeline(CLI::App& app);
void setup_evaluate(CLI::App& app);
void setup_feed(CLI::App& app);
void setup_classify(CLI::App& app);
void setup_sink(CLI::App& app);
void setup_pipeline(CLI::App& app);
void setup_bench_latency(CLI::App& app);

inline void SetupVision(CLI::App& app) {
  setup_train(app);
  setup_bench_model(app);
  setup_bench_pipeline(app);
  setup_evaluate(app);
  setup_feed(app);
  setup_classify(app);
  setup_sink(app);
  setup_pipeline(app);
  setup_bench_latency(app);
}

}  // namespace unibus::cli

#endif  // UNIBUS_CLI_SUBCOMMANDS_H_
