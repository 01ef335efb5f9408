#include "vision/pipeline_model.h"

#include <cstdlib>
#include <memory>
#include <utility>
#include <vector>

#include "vision/classifier.h"
#include "vision/idx.h"

namespace unibus::vision {
namespace {

class CnnModel : public pipeline::Model {
 public:
  explicit CnnModel(Classifier c) : c_(std::move(c)) {}
  absl::StatusOr<std::vector<pipeline::ModelOutput>> Classify(const std::uint8_t* images,
                                                              std::size_t n) override {
    auto r = c_.Classify(images, n);
    if (!r.ok()) return r.status();
    std::vector<pipeline::ModelOutput> out(r->size());
    for (std::size_t i = 0; i < r->size(); ++i) out[i] = {(*r)[i].class_index, (*r)[i].confidence};
    return out;
  }
  std::string version() const override { return c_.version(); }
  std::string class_name(int index) const override { return std::string(ClassName(index)); }

 private:
  Classifier c_;
};

}  // namespace

absl::StatusOr<pipeline::ImageSet> LoadTestImages(const std::string& data_dir) {
  auto d = LoadFashionMnist(data_dir, Split::kTest);
  if (!d.ok()) return d.status();
  pipeline::ImageSet set;
  set.pixels = std::move(d->images);
  set.labels.assign(d->labels.begin(), d->labels.end());
  return set;
}

absl::StatusOr<pipeline::ModelFactory> CnnModelFactory(const std::string& path) {
  // One intra-op thread per worker; OpenBLAS must not spawn its own on top.
  setenv("OPENBLAS_NUM_THREADS", "1", 0);
  setenv("OMP_NUM_THREADS", "1", 0);
  auto probe = Classifier::Load(path, {.threads = 1});
  if (!probe.ok()) return probe.status();
  return pipeline::ModelFactory([path]() -> absl::StatusOr<std::unique_ptr<pipeline::Model>> {
    auto c = Classifier::Load(path, {.threads = 1});
    if (!c.ok()) return c.status();
    return std::make_unique<CnnModel>(*std::move(c));
  });
}

}  // namespace unibus::vision
