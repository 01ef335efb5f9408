// Baselines the `unibus bench` driver measures in the same run as unibus: the same
// work done directly on the transport (a mutex queue for mem://, raw SQLite for
// sqlite://, the librdkafka C API for kafka://, the official client for pubsub://).
#ifndef UNIBUS_BENCH_BASELINES_H_
#define UNIBUS_BENCH_BASELINES_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/url.h"

namespace unibus::bench {

struct BaselineParams {
  int messages = 100000;
  int size = 100;
  int batch = 1000;
  // Kafka: an existing topic to use (the mock cluster cannot create one through the
  // admin API); empty: the baseline makes its own.
  std::string topic;
};

// CPU milliseconds by thread name (threads of one name are summed).
using ThreadCpu = std::map<std::string, double>;

struct BaselineResult {
  std::string name;  // e.g. "raw-sqlite"
  double publish_per_s = 0;
  double consume_per_s = 0;
  ThreadCpu publish_cpu;  // the process's threads during the publish phase, if measured
  ThreadCpu consume_cpu;  // the process's threads during the consume phase, if measured
};

// CPU time used so far by each live thread of this process, by name (Linux
// /proc/self/task; empty elsewhere).
ThreadCpu ThreadCpuNow();
// CPU time used so far by the calling thread, in ms.
double ThisThreadCpuMs();
// after - before, per name, dropping names that used under 1 ms.
ThreadCpu CpuSince(const ThreadCpu& before, const ThreadCpu& after);

// The median (upper middle) and the minimum of a run's rounds; 0 when empty.
double Median(std::vector<double> v);
double Min(const std::vector<double>& v);

// Runs the baseline for `url`'s backend. Unimplemented when there is none.
absl::StatusOr<BaselineResult> RunBaseline(const core_internal::Url& url,
                                           const BaselineParams& params);

// The in-process baseline: one producer thread pushing `messages` strings of `size`
// bytes through a mutex-guarded deque in batches, one consumer thread popping them.
BaselineResult RunQueueBaseline(const BaselineParams& params);

}  // namespace unibus::bench

#endif  // UNIBUS_BENCH_BASELINES_H_
