#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace unibus::cli {

Progress::Progress(std::string what, std::size_t total, Mode mode, absl::Duration interval,
                   std::FILE* out)
    : what_(std::move(what)),
      total_(total),
      mode_(mode),
      interval_(interval),
      out_(out),
      start_(absl::Now()) {
  if (mode_ == Mode::kAuto) mode_ = isatty(fileno(out_)) ? Mode::kBar : Mode::kLines;
  if (mode_ == Mode::kLines) next_ = start_ + interval_;  // no line for a short run
}

std::string Progress::Line(const std::string& what, std::size_t done, std::size_t total,
                           absl::Duration elapsed, bool bar) {
  const double secs = absl::ToDoubleSeconds(elapsed);
  const double rate = secs > 0 ? done / secs : 0;
  std::string line;
  if (bar && total > 0) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * std::min(done, total) / total);
    absl::StrAppend(&line, "[", std::string(filled, '#'), std::string(kWidth - filled, '.'), "] ");
  }
  absl::StrAppend(&line, done);
  if (total > 0) absl::StrAppend(&line, "/", total);
  absl::StrAppend(&line, " ", what, absl::StrFormat("  %.0f/s", rate));
  if (total > 0 && done < total && rate > 0)
    absl::StrAppend(&line, absl::StrFormat("  eta %.0fs", (total - done) / rate));
  return line;
}

void Progress::Draw(std::size_t done, absl::Time now, bool last) {
  const std::string line = Line(what_, done, total_, now - start_, mode_ == Mode::kBar);
  if (mode_ == Mode::kBar) {
    std::fprintf(out_, "\r%s\033[K%s", line.c_str(), last ? "\n" : "");
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

void Progress::Update(std::size_t done) {
  if (mode_ == Mode::kQuiet) return;
  const absl::Time now = absl::Now();
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_ || now < next_) return;
  next_ = now + (mode_ == Mode::kBar ? absl::Milliseconds(100) : interval_);
  Draw(done, now, false);
}

void Progress::Finish(std::size_t done) {
  if (mode_ == Mode::kQuiet) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  finished_ = true;
  // A lines-mode run shorter than one interval printed nothing: its summary says it.
  if (mode_ == Mode::kBar) Draw(done, absl::Now(), true);
}

}  // namespace unibus::cli
