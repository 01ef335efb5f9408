#include "bench/baselines.h"
#ifdef UNIBUS_HAVE_KAFKA_BASELINE
#include "bench/kafka_baseline.h"
#endif

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/sqlite_baseline.h"
#ifdef UNIBUS_HAVE_PUBSUB_BASELINE
#include "bench/pubsub_baseline.h"
#endif

namespace unibus::bench {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double Min(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}

ThreadCpu ThreadCpuNow() {
  ThreadCpu cpu;
  const double ms_per_tick = 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream in(task.path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;  // the thread ended meanwhile
    // pid (comm) state ppid ... utime(14) stime(15); comm may hold spaces.
    const auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stod(field);
      if (i == 15) stime = std::stod(field);
    }
    cpu[line.substr(open + 1, close - open - 1)] += (utime + stime) * ms_per_tick;
  }
  return cpu;
}

double ThisThreadCpuMs() {
  rusage ru{};
  if (getrusage(RUSAGE_THREAD, &ru) != 0) return 0;
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

ThreadCpu CpuSince(const ThreadCpu& before, const ThreadCpu& after) {
  ThreadCpu d;
  for (const auto& [name, ms] : after) {
    auto it = before.find(name);
    const double used = ms - (it == before.end() ? 0 : it->second);
    if (used >= 1) d[name] = used;
  }
  return d;
}

BaselineResult RunQueueBaseline(const BaselineParams& p) {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> q;
  const std::string payload(p.size, 'x');
  BaselineResult r{.name = "mutex-queue"};
  const absl::Time start = absl::Now();
  for (int i = 0; i < p.messages; i += p.batch) {
    std::lock_guard<std::mutex> lock(mu);
    for (int j = i; j < std::min(p.messages, i + p.batch); ++j) q.push_back(payload);
  }
  r.publish_per_s = p.messages / absl::ToDoubleSeconds(absl::Now() - start);
  const absl::Time cstart = absl::Now();
  std::size_t bytes = 0;
  std::thread consumer([&] {
    int got = 0;
    while (got < p.messages) {
      std::lock_guard<std::mutex> lock(mu);
      for (int j = 0; j < p.batch && !q.empty(); ++j, ++got) {
        bytes += q.front().size();
        q.pop_front();
      }
    }
  });
  consumer.join();
  r.consume_per_s = p.messages / absl::ToDoubleSeconds(absl::Now() - cstart);
  if (bytes != static_cast<std::size_t>(p.messages) * p.size) r.consume_per_s = 0;
  return r;
}

absl::StatusOr<BaselineResult> RunBaseline(const core_internal::Url& url,
                                           const BaselineParams& params) {
  if (url.scheme == "mem") return RunQueueBaseline(params);
  if (url.scheme == "sqlite") return RunSqliteBaseline(SqliteBaselinePath(url), params);
#ifdef UNIBUS_HAVE_KAFKA_BASELINE
  if (url.scheme == "kafka") return RunKafkaBaseline(url, params, params.topic);
#endif
#ifdef UNIBUS_HAVE_PUBSUB_BASELINE
  if (url.scheme == "pubsub") {
    auto config = PubsubBaselineConfigFor(url);
    if (!config.ok()) return config.status();
    return RunPubsubBaseline(*config, params);
  }
#endif
  return absl::UnimplementedError(absl::StrCat("no baseline for ", url.scheme, ":// yet"));
}

}  // namespace unibus::bench
