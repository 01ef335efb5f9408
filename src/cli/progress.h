// Progress of long work (feed, pipeline, train) on stderr: a bar redrawn in place on a
// terminal, else one line per interval (logs stay readable); nothing with --quiet.
#ifndef UNIBUS_CLI_PROGRESS_H_
#define UNIBUS_CLI_PROGRESS_H_

#include <cstddef>
#include <cstdio>
#include <mutex>
#include <string>

#include "absl/time/time.h"

namespace unibus::cli {

class Progress {
 public:
  enum class Mode { kAuto, kBar, kLines, kQuiet };  // kAuto: a bar when `out` is a TTY

  // `what` names the items ("images"); `total` 0 when unknown. Writes to `out`
  // (stderr by default), a line every `interval` when not drawing a bar.
  Progress(std::string what, std::size_t total, Mode mode = Mode::kAuto,
           absl::Duration interval = absl::Seconds(5), std::FILE* out = stderr);
  // `done` items so far. Cheap enough to call per item (draws at most 10 times a
  // second). Thread-safe.
  void Update(std::size_t done);
  // The last figure, once, and the end of the bar's line.
  void Finish(std::size_t done);

  // "[#####.....] 512/1000 images  830/s  eta 1s" (no bar when total is 0).
  static std::string Line(const std::string& what, std::size_t done, std::size_t total,
                          absl::Duration elapsed, bool bar);

 private:
  void Draw(std::size_t done, absl::Time now, bool last);

  const std::string what_;
  const std::size_t total_;
  Mode mode_;
  const absl::Duration interval_;
  std::FILE* const out_;
  const absl::Time start_;
  std::mutex mu_;
  absl::Time next_ = absl::InfinitePast();  // guarded by mu_
  bool finished_ = false;                   // guarded by mu_
};

}  // namespace unibus::cli

#endif  // UNIBUS_CLI_PROGRESS_H_
