// The kafka:// baseline for `unibus bench`: the same work done directly on
// librdkafka's C API with the settings unibus uses, so the driver can print
// unibus/raw ratios measured in the same run.
#ifndef UNIBUS_BENCH_KAFKA_BASELINE_H_
#define UNIBUS_BENCH_KAFKA_BASELINE_H_

#include "absl/status/statusor.h"
#include "bench/baselines.h"
#include "core/url.h"

namespace unibus::bench {

// Produces params.messages messages of params.size bytes to a fresh topic with an
// idempotent producer (acks=all, linger.ms=1, batch.num.messages=params.batch,
// delivery reports polled by a thread), then consumes them in a fresh group with
// enable.auto.commit=false, storing each offset and committing asynchronously
// every 50 ms (what unibus's consumer does). The topic is created with the admin
// API, or by the broker's auto-create where the server lacks CreateTopics (the mock
// cluster). `url`'s query parameters pass through to librdkafka, as for kafka://.
// A non-empty `topic` names an existing topic to use instead (so unibus and the
// baseline can run on topics of the same shape).
absl::StatusOr<BaselineResult> RunKafkaBaseline(const core_internal::Url& url,
                                                const BaselineParams& params,
                                                const std::string& topic = "");

}  // namespace unibus::bench

#endif  // UNIBUS_BENCH_KAFKA_BASELINE_H_
