// The image pipeline from Python: ImageMessage / Prediction codecs and serve(), which
// runs the C++ classify loop (src/pipeline) around a Python model function.
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common.h"
#include "message.h"
#include "pipeline/stages.h"
#include "unibus/typed.h"
#include "vision.pb.h"

namespace unibus::python {
namespace {

using pipeline::kImageBytes;
using pipeline::kImageSide;
using Images = nb::ndarray<nb::numpy, std::uint8_t, nb::ndim<3>>;

// "ValueError: the model returned 3 outputs for 4 images"
std::string Describe(nb::python_error& e) {
  nb::gil_scoped_acquire gil;
  std::string type = nb::cast<std::string>(nb::handle(e.type()).attr("__name__"));
  std::string value = nb::cast<std::string>(nb::str(e.value()));
  return value.empty() ? type : absl::StrCat(type, ": ", value);
}

// The pipeline's Model over a Python function `fn(images) -> (indices, confidences)`,
// `images` a uint8 ndarray (n, 28, 28) (a copy the function may keep), the results
// int64 and float32 arrays of n (unibus/_vision.py checks them and says what is
// wrong). An exception becomes the status, and so the batch's nack reason.
class PyModel : public pipeline::Model {
 public:
  PyModel(std::shared_ptr<GilSafeCallable> fn, std::string version,
          std::vector<std::string> class_names)
      : fn_(std::move(fn)), version_(std::move(version)), names_(std::move(class_names)) {}

  absl::StatusOr<std::vector<pipeline::ModelOutput>> Classify(const std::uint8_t* images,
                                                              std::size_t n) override {
    if (!PythonAlive()) return absl::UnavailableError("the Python interpreter is shutting down");
    nb::gil_scoped_acquire gil;
    try {
      auto* copy = new std::uint8_t[n * kImageBytes];
      std::memcpy(copy, images, n * kImageBytes);
      nb::capsule owner(copy, [](void* p) noexcept { delete[] static_cast<std::uint8_t*>(p); });
      Images batch(copy,
                   {n, static_cast<std::size_t>(kImageSide), static_cast<std::size_t>(kImageSide)},
                   owner);
      nb::tuple r = nb::cast<nb::tuple>(fn_->fn(batch));
      auto idx =
          nb::cast<nb::ndarray<std::int64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>>(r[0]);
      auto conf = nb::cast<nb::ndarray<float, nb::ndim<1>, nb::c_contig, nb::device::cpu>>(r[1]);
      if (idx.shape(0) != n || conf.shape(0) != n) {
        return absl::InvalidArgumentError(
            absl::StrCat("model_fn returned ", idx.shape(0), " outputs for ", n, " images"));
      }
      std::vector<pipeline::ModelOutput> out(n);
      for (std::size_t i = 0; i < n; ++i) {
        out[i].class_index = static_cast<int>(idx.data()[i]);
        out[i].confidence = conf.data()[i];
      }
      return out;
    } catch (nb::python_error& e) {
      return absl::InvalidArgumentError(absl::StrCat("model_fn failed: ", Describe(e)));
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat("model_fn failed: ", e.what()));
    }
  }
  std::string version() const override { return version_; }
  std::string class_name(int index) const override {
    if (index >= 0 && static_cast<std::size_t>(index) < names_.size()) return names_[index];
    return absl::StrCat("class-", index);
  }

 private:
  std::shared_ptr<GilSafeCallable> fn_;
  std::string version_;
  std::vector<std::string> names_;
};

nb::tuple Encoded(const absl::StatusOr<Message>& m) {
  if (!m.ok()) ThrowStatus(m.status());
  nb::dict attrs;
  for (const auto& [k, v] : m->attributes) attrs[Text(k)] = Text(v);
  return nb::make_tuple(nb::bytes(m->data.data(), m->data.size()), attrs);
}

nb::tuple EncodeImage(const std::string& image_id, nb::bytes pixels, nb::object label,
                      std::int64_t produced_at_us) {
  vision::ImageMessage img;
  img.set_image_id(image_id);
  img.set_width(kImageSide);
  img.set_height(kImageSide);
  img.set_pixels(pixels.c_str(), pixels.size());
  if (!label.is_none()) img.set_label(nb::cast<int>(label));
  img.set_produced_at_us(produced_at_us != 0 ? produced_at_us : absl::ToUnixMicros(absl::Now()));
  Check(pipeline::ValidateImage(img));
  return Encoded(EncodeTyped(img, TypedOptions{.compress_above = 0}));
}

// (image_id, pixels (28, 28) uint8, label or None, produced_at_us).
nb::tuple DecodeImage(const DeliveredMessage& d) {
  vision::ImageMessage img;
  Check(DecodeTyped(d.message, &img));
  Check(pipeline::ValidateImage(img));
  auto* copy = new std::uint8_t[kImageBytes];
  std::memcpy(copy, img.pixels().data(), kImageBytes);
  nb::capsule owner(copy, [](void* p) noexcept { delete[] static_cast<std::uint8_t*>(p); });
  nb::ndarray<nb::numpy, std::uint8_t, nb::ndim<2>> pixels(
      copy, {static_cast<std::size_t>(kImageSide), static_cast<std::size_t>(kImageSide)}, owner);
  return nb::make_tuple(img.image_id(), pixels,
                        img.has_label() ? nb::object(nb::int_(img.label())) : nb::none(),
                        img.produced_at_us());
}

nb::dict DecodePrediction(const DeliveredMessage& d) {
  vision::Prediction p;
  Check(DecodeTyped(d.message, &p));
  nb::dict out;
  out["image_id"] = p.image_id();
  out["class_index"] = p.class_index();
  out["class_name"] = p.class_name();
  out["confidence"] = p.confidence();
  out["model_version"] = p.model_version();
  out["true_label"] = p.has_true_label() ? nb::object(nb::int_(p.true_label())) : nb::none();
  out["produced_at_us"] = p.produced_at_us();
  out["classified_at_us"] = p.classified_at_us();
  out["queue_ms"] = p.queue_ms();
  out["inference_ms"] = p.inference_ms();
  out["batch_size"] = p.batch_size();
  return out;
}

nb::tuple EncodePrediction(nb::dict f) {
  vision::Prediction p;
  p.set_image_id(nb::cast<std::string>(f["image_id"]));
  p.set_class_index(nb::cast<int>(f["class_index"]));
  p.set_class_name(nb::cast<std::string>(f["class_name"]));
  p.set_confidence(nb::cast<float>(f["confidence"]));
  p.set_model_version(nb::cast<std::string>(f["model_version"]));
  if (!f["true_label"].is_none()) p.set_true_label(nb::cast<int>(f["true_label"]));
  p.set_produced_at_us(nb::cast<std::int64_t>(f["produced_at_us"]));
  p.set_classified_at_us(nb::cast<std::int64_t>(f["classified_at_us"]));
  p.set_queue_ms(nb::cast<double>(f["queue_ms"]));
  p.set_inference_ms(nb::cast<double>(f["inference_ms"]));
  p.set_batch_size(nb::cast<int>(f["batch_size"]));
  return Encoded(EncodeTyped(p, TypedOptions{.compress_above = 0}, p.image_id()));
}

// Runs the classify loop on its own thread until `should_stop()` is true or Ctrl-C;
// the calling thread waits without the GIL. Returns the loop's counters.
nb::dict Serve(nb::handle in, nb::handle out, nb::object model_fn, std::string version,
               std::vector<std::string> class_names, pipeline::ClassifyOptions options,
               nb::object should_stop) {
  Broker& in_broker = BrokerOf(in);
  Broker& out_broker = BrokerOf(out);
  auto fn = std::make_shared<GilSafeCallable>(std::move(model_fn));
  pipeline::ModelFactory factory = [&]() -> absl::StatusOr<std::unique_ptr<pipeline::Model>> {
    return std::make_unique<PyModel>(fn, version, class_names);
  };
  std::atomic<bool> stop{false};
  pipeline::ClassifyStats stats;
  absl::Status result;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread loop([&] {
    absl::Status s = pipeline::RunClassifier(in_broker, out_broker, factory, options, stop, &stats);
    std::lock_guard<std::mutex> lock(mu);
    result = std::move(s);
    done = true;
    cv.notify_all();
  });
  auto join = [&] {
    stop = true;
    nb::gil_scoped_release release;
    loop.join();
  };
  try {
    for (;;) {
      {
        nb::gil_scoped_release release;
        std::unique_lock<std::mutex> lock(mu);
        if (cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return done; })) break;
      }
      if (PyErr_CheckSignals() != 0) throw nb::python_error();
      if (!should_stop.is_none() && nb::cast<bool>(should_stop())) stop = true;
    }
  } catch (...) {
    join();
    throw;
  }
  join();
  Check(result);
  nb::dict counts;
  counts["classified"] = stats.classified.load();
  counts["rejected"] = stats.rejected.load();
  counts["batches"] = stats.batches.load();
  return counts;
}

}  // namespace

void BindVision(nb::module_& m) {
  nb::class_<pipeline::ClassifyOptions>(m, "_ClassifyOptions")
      .def(nb::init<>())
      .def_rw("subscription", &pipeline::ClassifyOptions::subscription)
      .def_rw("images_topic", &pipeline::ClassifyOptions::images_topic)
      .def_rw("predictions_topic", &pipeline::ClassifyOptions::predictions_topic)
      .def_rw("workers", &pipeline::ClassifyOptions::workers)
      .def_rw("max_batch", &pipeline::ClassifyOptions::max_batch)
      .def_rw("warm_up", &pipeline::ClassifyOptions::warm_up)
      .def_prop_rw(
          "max_wait", [](const pipeline::ClassifyOptions& o) { return ToSeconds(o.max_wait); },
          [](pipeline::ClassifyOptions& o, double s) { o.max_wait = Seconds(s, "max_wait"); })
      .def_prop_rw(
          "ack_deadline",
          [](const pipeline::ClassifyOptions& o) { return ToSeconds(o.ack_deadline); },
          [](pipeline::ClassifyOptions& o, double s) {
            o.ack_deadline = Seconds(s, "ack_deadline");
          });
  m.def("_encode_image", &EncodeImage, nb::arg("image_id"), nb::arg("pixels"),
        nb::arg("label").none(), nb::arg("produced_at_us"));
  m.def("_decode_image", &DecodeImage, nb::arg("message"));
  m.def("_decode_prediction", &DecodePrediction, nb::arg("message"));
  m.def("_encode_prediction", &EncodePrediction, nb::arg("fields"));
  m.def("_serve", &Serve, nb::arg("in_broker"), nb::arg("out_broker"), nb::arg("model_fn"),
        nb::arg("model_version"), nb::arg("class_names"), nb::arg("options"),
        nb::arg("should_stop").none());
}

}  // namespace unibus::python
