// DecodeTyped on arbitrary payloads (every message classify or a TypedSubscriber gets).
// The first byte picks the envelope: zstd or not, protobuf or JSON, which type.
#include <cstddef>
#include <cstdint>
#include <string>

#include "unibus/typed.h"
#include "vision.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  unibus::Message m;
  m.data.assign(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (mode & 1) m.attributes[unibus::kEncodingAttribute] = "zstd";
  if (mode & 2) m.attributes[unibus::kContentType] = unibus::kJsonContentType;
  if (mode & 4) m.attributes[unibus::kTypeAttribute] = "unibus.vision.ImageMessage";
  if (mode & 8) {
    unibus::vision::Prediction p;
    (void)unibus::DecodeTyped(m, &p);
  } else {
    unibus::vision::ImageMessage img;
    (void)unibus::DecodeTyped(m, &img);
  }
  return 0;
}
