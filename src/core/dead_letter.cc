#include "core/dead_letter.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace unibus::core_internal {
namespace {

// The length of the valid UTF-8 character at the start of `s`, or 0 when it does
// not start with one (RFC 3629: no overlongs, surrogates or code points past
// U+10FFFF).
std::size_t Utf8CharLength(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](std::size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

constexpr std::string_view kEllipsis = "...";

const char* const kLibraryAttributes[] = {kDeadLetterReason, kDeadLetterSourceTopic,
                                          kDeadLetterSourceSubscription, kDeadLetterAttempts};

}  // namespace

std::string BoundedReason(std::string_view reason, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(reason.size(), max_bytes));
  const std::size_t cut_at = max_bytes >= kEllipsis.size() ? max_bytes - kEllipsis.size() : 0;
  std::size_t cut = std::string::npos;  // out's length at the last boundary within cut_at
  for (std::size_t i = 0; i < reason.size();) {
    const std::size_t n = Utf8CharLength(reason.substr(i));
    if (out.size() <= cut_at) cut = out.size();
    if (out.size() + std::max<std::size_t>(n, 1) > max_bytes) {
      // Too long: cut at the last boundary that leaves room for the ellipsis.
      if (max_bytes < kEllipsis.size()) return out;
      out.resize(cut);
      out += kEllipsis;
      return out;
    }
    if (n == 0) {
      out += '?';
      ++i;
    } else {
      out.append(reason.substr(i, n));
      i += n;
    }
  }
  return out;
}

absl::StatusOr<Message> BuildDeadLetterCopy(Message original, const DeadLetterInfo& info,
                                            std::size_t max_message_bytes) {
  const std::size_t original_bytes = original.ByteSize();
  Message m;
  m.data = std::move(original.data);
  m.attributes = std::move(original.attributes);
  m.ordering_key = std::move(original.ordering_key);
  for (const char* name : kLibraryAttributes) {
    auto it = m.attributes.find(name);
    if (it == m.attributes.end()) continue;
    std::string kept = absl::StrCat(kOriginalAttributePrefix, name);
    while (m.attributes.contains(kept)) kept.insert(0, kOriginalAttributePrefix);
    std::string value = std::move(it->second);
    m.attributes.erase(it);
    m.attributes.emplace(std::move(kept), std::move(value));
  }
  m.attributes[kDeadLetterSourceTopic] = std::string(info.source_topic);
  m.attributes[kDeadLetterSourceSubscription] = std::string(info.source_subscription);
  m.attributes[kDeadLetterAttempts] = absl::StrCat(info.delivery_attempts);
  std::string& reason = m.attributes[kDeadLetterReason];
  const std::size_t without_reason = m.ByteSize();
  if (without_reason > max_message_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("its dead-letter copy would be ", without_reason,
                     " bytes even with an empty reason, over the ", max_message_bytes,
                     "-byte message limit (the message is ", original_bytes,
                     " bytes; dead-lettering adds up to ", kMaxDeadLetterOverheadBytes, ")"));
  }
  reason = BoundedReason(info.reason,
                         std::min(kMaxDeadLetterReasonBytes, max_message_bytes - without_reason));
  return m;
}

bool IsPermanentDeadLetterError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return false;
    default:
      return true;
  }
}

}  // namespace unibus::core_internal
