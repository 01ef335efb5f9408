#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "pipeline/stages.h"
#include "unibus/typed.h"

namespace unibus::pipeline {
namespace {

void DrawProgress(std::size_t done, std::size_t total, absl::Time start) {
  const int width = 40;
  const int filled = total == 0 ? width : static_cast<int>(width * done / total);
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  std::fprintf(stderr, "\r[%s%s] %zu/%zu %.0f img/s", std::string(filled, '#').c_str(),
               std::string(width - filled, '.').c_str(), done, total, secs > 0 ? done / secs : 0.0);
  if (done == total) std::fputc('\n', stderr);
}

}  // namespace

absl::StatusOr<FeedResult> RunFeed(Broker& broker, const ImageSet& images, const FeedOptions& o,
                                   const std::atomic<bool>* stop) {
  const std::size_t n = o.count == 0 ? images.size() : std::min(o.count, images.size());
  if (!(o.rate >= 0) || std::isinf(o.rate)) {  // NaN fails the first test
    return absl::InvalidArgumentError(absl::StrCat(
        "--rate ", o.rate, " is not a rate: give images per second, > 0 (0: as fast as possible)"));
  }
  if (o.count > images.size()) {
    return absl::InvalidArgumentError(absl::StrCat("--count ", o.count, " is more than the ",
                                                   images.size(), " images available"));
  }
  if (o.first > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("--first ", o.first, " is past the last of the ", n, " images to send"));
  }
  auto pub = broker.publisher(o.topic, PublisherOptions{.max_batch_delay = o.publish_delay,
                                                        .create_topic_if_missing = true});
  if (!pub.ok()) return pub.status();
  if (o.metrics) *pub = PublisherMetrics(o.metrics, o.topic).Wrap(*pub);
  TypedPublisher<vision::ImageMessage> typed(*pub, TypedOptions{.compress_above = 0});
  const bool bar = o.progress && !o.on_progress && isatty(STDERR_FILENO);
  const absl::Time start = absl::Now();
  std::vector<PublishFuture> futures;
  futures.reserve(n - o.first);
  vision::ImageMessage img;
  for (std::size_t i = o.first; i < n; ++i) {
    if (stop && stop->load()) break;
    if (o.rate > 0) {
      const absl::Time due = start + absl::Seconds((i - o.first) / o.rate);
      const absl::Time now = absl::Now();
      if (now < due) absl::SleepFor(due - now);
    }
    img.set_image_id(absl::StrCat(o.id_prefix, i));
    img.set_width(kImageSide);
    img.set_height(kImageSide);
    img.set_pixels(images.pixels.data() + i * kImageBytes, kImageBytes);
    if (images.labels[i] >= 0)
      img.set_label(images.labels[i]);
    else
      img.clear_label();
    img.set_produced_at_us(absl::ToUnixMicros(absl::Now()));
    futures.push_back(typed.Publish(img, img.image_id()));
    if (o.on_progress) o.on_progress(futures.size());
    if (bar && (i % 256 == 0)) DrawProgress(i, n, start);
  }
  if (auto s = typed.Flush(); !s.ok()) return s;
  for (auto& f : futures) {
    if (!f.get().ok()) return f.get().status();
  }
  if (bar) DrawProgress(o.first + futures.size(), n, start);
  pub->Shutdown();
  return FeedResult{futures.size(), absl::ToDoubleSeconds(absl::Now() - start)};
}

}  // namespace unibus::pipeline
