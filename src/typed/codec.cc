#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"
#include "unibus/typed.h"
#include "zstd.h"

namespace unibus {
namespace {

std::string NewTraceparent() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return absl::StrFormat("00-%016x%016x-%016x-01", rng(), rng(), rng() | 1);
}

absl::StatusOr<std::string> Decompress(const std::string& in) {
  const unsigned long long size = ZSTD_getFrameContentSize(in.data(), in.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (256u << 20)) {
    return absl::InvalidArgumentError(
        "payload marked unibus-encoding=zstd is not a valid zstd frame");
  }
  std::string out(size, '\0');
  const size_t n = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(n) || n != size) {
    return absl::InvalidArgumentError(
        absl::StrCat("zstd payload is corrupt: ", ZSTD_getErrorName(n)));
  }
  return out;
}

}  // namespace

absl::StatusOr<Message> EncodeTyped(const google::protobuf::Message& value,
                                    const TypedOptions& options, std::string ordering_key,
                                    std::map<std::string, std::string> attributes) {
  Message m;
  m.ordering_key = std::move(ordering_key);
  m.attributes = std::move(attributes);
  if (options.json) {
    auto s = google::protobuf::util::MessageToJsonString(value, &m.data);
    if (!s.ok())
      return absl::InvalidArgumentError(
          absl::StrCat("cannot encode ", value.GetTypeName(), " as JSON: ", s.ToString()));
    m.attributes[kContentType] = kJsonContentType;
  } else {
    if (!value.SerializeToString(&m.data)) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot serialize ", value.GetTypeName(), " (missing required fields?)"));
    }
    m.attributes[kContentType] = kProtobufContentType;
  }
  if (options.compress_above > 0 && m.data.size() > options.compress_above) {
    std::string z(ZSTD_compressBound(m.data.size()), '\0');
    const size_t n =
        ZSTD_compress(z.data(), z.size(), m.data.data(), m.data.size(), options.zstd_level);
    if (ZSTD_isError(n)) return absl::InternalError(absl::StrCat("zstd: ", ZSTD_getErrorName(n)));
    z.resize(n);
    m.data = std::move(z);
    m.attributes[kEncodingAttribute] = "zstd";
  }
  m.attributes[kTypeAttribute] = value.GetTypeName();
  if (!m.attributes.count(kTraceparentAttribute))
    m.attributes[kTraceparentAttribute] = NewTraceparent();
  m.attributes[kProducedAtAttribute] =
      absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone());
  return m;
}

absl::Status DecodeTyped(const Message& m, google::protobuf::Message* out) {
  const std::string want = out->GetTypeName();
  const std::string type = m.attribute(kTypeAttribute);
  if (!type.empty() && type != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("wrong message type: got ", type, ", expected ", want));
  }
  const std::string encoding = m.attribute(kEncodingAttribute);
  const std::string* payload = &m.data;
  std::string plain;
  if (encoding == "zstd") {
    auto d = Decompress(m.data);
    if (!d.ok()) return d.status();
    plain = *std::move(d);
    payload = &plain;
  } else if (!encoding.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown unibus-encoding '", encoding, "'"));
  }
  const std::string content_type = m.attribute(kContentType, kProtobufContentType);
  if (content_type == kJsonContentType) {
    google::protobuf::util::JsonParseOptions opts;
    opts.ignore_unknown_fields = false;
    auto s = google::protobuf::util::JsonStringToMessage(*payload, out, opts);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("JSON payload is not a valid ", want, ": ", s.message().as_string()));
    }
    return absl::OkStatus();
  }
  if (content_type != kProtobufContentType) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported content-type '", content_type, "' for ", want));
  }
  if (!out->ParseFromString(*payload)) {
    return absl::InvalidArgumentError(absl::StrCat("payload does not parse as ", want));
  }
  return absl::OkStatus();
}

}  // namespace unibus
