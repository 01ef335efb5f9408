#include <algorithm>
#include <cstring>
#include <memory>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"
#include "unibus/typed.h"
#include "zstd.h"
#include "zstd_errors.h"

namespace unibus {
namespace {

std::string NewTraceparent() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return absl::StrFormat("00-%016x%016x-%016x-01", rng(), rng(), rng() | 1);
}

struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// Undoes unibus-encoding=zstd without trusting the frame: the declared content size
// is checked against `limit` before anything is allocated, output grows only as the
// decoder really produces bytes (so a ten-byte frame that claims 10 MiB costs a few
// KiB), the decoder's window is capped, and decoding stops as soon as the output would
// pass `limit` (frames without a declared size, concatenated frames).
absl::StatusOr<std::string> Decompress(const std::string& in, std::size_t limit) {
  const unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) {
    return absl::InvalidArgumentError(absl::StrCat(
        "payload marked unibus-encoding=zstd is not a zstd frame (", in.size(),
        " bytes without a valid zstd frame header); publish it without that attribute or "
        "compress it with zstd"));
  }
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > limit) {
    return absl::InvalidArgumentError(
        absl::StrCat("zstd payload declares ", declared, " bytes decompressed, over the limit of ",
                     limit, " bytes for a decoded message (kMaxDecompressedBytes)"));
  }
  std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx(ZSTD_createDCtx());
  if (dctx == nullptr) return absl::ResourceExhaustedError("cannot create a zstd decoder");
  // A window larger than the limit can never be needed; the default allows 128 MiB.
  int window_log = 10;  // ZSTD_WINDOWLOG_ABSOLUTEMIN
  while (window_log < 31 && (std::size_t{1} << window_log) < limit) ++window_log;
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, window_log);

  // Start from what the input can plausibly hold (zstd rarely beats 64:1 on real data)
  // and double from there: every buffer is allocated at its exact size (std::string's
  // own growth would overshoot the limit).
  const std::size_t start = std::max<std::size_t>(
      ZSTD_DStreamOutSize(), std::min<std::size_t>(in.size(), limit / 64) * 64);
  std::string out(std::min<std::size_t>(
                      {limit, start, declared == ZSTD_CONTENTSIZE_UNKNOWN ? limit : declared}),
                  '\0');
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  std::size_t produced = 0;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() >= limit) {
        return absl::InvalidArgumentError(absl::StrCat(
            "zstd payload of ", in.size(), " bytes decompresses to more than the limit of ", limit,
            " bytes for a decoded message (kMaxDecompressedBytes)"));
      }
      // (from at least one stream block: a frame may declare 0 bytes and be followed
      // by another that holds more)
      std::string bigger(std::min(limit, std::max(out.size() * 2, ZSTD_DStreamOutSize())), '\0');
      std::memcpy(bigger.data(), out.data(), produced);
      out.swap(bigger);
    }
    ZSTD_outBuffer dst{out.data(), out.size(), produced};
    const std::size_t ret = ZSTD_decompressStream(dctx.get(), &dst, &src);
    produced = dst.pos;
    if (ZSTD_isError(ret)) {
      if (ZSTD_getErrorCode(ret) == ZSTD_error_frameParameter_windowTooLarge) {
        return absl::InvalidArgumentError(
            absl::StrCat("zstd payload needs a window larger than the limit of ", limit,
                         " bytes for a decoded message (kMaxDecompressedBytes)"));
      }
      return absl::InvalidArgumentError(
          absl::StrCat("zstd payload is corrupt: ", ZSTD_getErrorName(ret)));
    }
    if (src.pos == src.size) {
      if (ret == 0) break;  // every frame complete and flushed
      if (dst.pos < dst.size) {
        return absl::InvalidArgumentError(
            absl::StrCat("zstd payload is corrupt: truncated after ", in.size(), " bytes"));
      }
    }
  }
  out.resize(produced);
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
    auto d = Decompress(m.data, kMaxDecompressedBytes);
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
