#include "core/policy.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "unibus/publisher.h"

namespace unibus {
namespace core_internal {
namespace {

// Typed-envelope keys (include/unibus/typed.h): part of the message format.
constexpr absl::string_view kEnvelopeKeys[] = {"unibus-type", "unibus-encoding",
                                               "unibus-produced-at"};

// `s` for an error message: at most 40 bytes, non-printable bytes escaped.
std::string Shown(absl::string_view s) {
  const bool cut = s.size() > 40;
  return absl::StrCat(absl::CHexEscape(s.substr(0, 40)), cut ? "..." : "");
}

}  // namespace

bool IsValidUtf8(absl::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    // ASCII, 8 bytes at a time: most keys and values are.
    if (end - p >= 8) {
      std::uint64_t word;
      std::memcpy(&word, p, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        p += 8;
        continue;
      }
    }
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    std::uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;  // a continuation byte, an overlong lead (C0, C1) or past F4
    }
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += n + 1;
  }
  return true;
}

bool IsReservedAttribute(absl::string_view key) {
  if (!absl::StartsWith(key, "unibus-")) return false;
  for (absl::string_view k : kEnvelopeKeys) {
    if (key == k) return false;
  }
  return true;
}

absl::Status TopicNotFound(absl::string_view url, absl::string_view topic, Caller caller) {
  return absl::NotFoundError(absl::StrCat("topic '", topic, "' does not exist on ", url,
                                          "; create it (unibus topics create ", topic, ")",
                                          caller == Caller::kPublisher
                                              ? " or set PublisherOptions::create_topic_if_missing "
                                                "(unibus publish --create-topic)"
                                              : " before subscribing to it"));
}

absl::Status SubscriptionNotFound(absl::string_view url, absl::string_view subscription) {
  return absl::NotFoundError(absl::StrCat(
      "subscription '", subscription, "' does not exist on ", url,
      "; create it (unibus subscriptions create ", subscription,
      " --topic TOPIC) or set SubscriberOptions::topic (--topic) to create it on first use"));
}

SubscriptionConfig OnDemandSubscription(const std::string& subscription,
                                        const SubscriberOptions& options) {
  return SubscriptionConfig{.name = subscription,
                            .topic = options.topic,
                            .start = options.start,
                            .ack_deadline = options.ack_deadline,
                            .message_ordering = true,
                            .dead_letter_topic = "",
                            .max_delivery_attempts = options.max_delivery_attempts};
}

}  // namespace core_internal

absl::Status ValidateForPublish(const Message& m, const Capabilities& caps, std::string_view topic,
                                bool allow_reserved) {
  const absl::string_view topic_name(topic.data(), topic.size());
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("message for topic '", topic_name, "' on ", caps.backend, " refused: ", why));
  };
  if (m.data.empty() && m.attributes.empty()) {
    return bad(
        "it has no data and no attributes; a message carries data, attributes or both (an empty "
        "message cannot be published on Pub/Sub, so unibus refuses it on every backend)");
  }
  if (m.attributes.size() > caps.max_attributes) {
    return bad(absl::StrCat("it has ", m.attributes.size(), " attributes; ", caps.backend,
                            " delivers at most ", caps.max_attributes));
  }
  for (const auto& [k, v] : m.attributes) {
    if (k.empty()) return bad("an attribute key is empty; attribute keys must not be empty");
    if (!core_internal::IsValidUtf8(k)) {
      return bad(absl::StrCat("attribute key '", core_internal::Shown(k),
                              "' is not valid UTF-8; attribute keys and values and ordering keys "
                              "must be UTF-8 on every backend (put bytes in the data)"));
    }
    if (!allow_reserved && core_internal::IsReservedAttribute(k)) {
      return bad(absl::StrCat(
          "attribute key '", k,
          "' is reserved: unibus-* attributes are set by the library itself "
          "(only unibus-type, unibus-encoding and unibus-produced-at, the "
          "typed envelope's, may be published); rename it, or, in a tool that moves the "
          "library's messages, set PublisherOptions::allow_reserved_attributes"));
    }
    if (k.size() > caps.max_attribute_key_bytes) {
      return bad(absl::StrCat("attribute key '", core_internal::Shown(k), "' has ", k.size(),
                              " bytes; ", caps.backend, " allows at most ",
                              caps.max_attribute_key_bytes));
    }
    if (!core_internal::IsValidUtf8(v)) {
      return bad(absl::StrCat("the value of attribute '", core_internal::Shown(k),
                              "' is not valid UTF-8; attribute keys and values and ordering keys "
                              "must be UTF-8 on every backend (put bytes in the data)"));
    }
    if (v.size() > caps.max_attribute_value_bytes) {
      return bad(absl::StrCat("the value of attribute '", core_internal::Shown(k), "' has ",
                              v.size(), " bytes; ", caps.backend, " allows at most ",
                              caps.max_attribute_value_bytes));
    }
  }
  if (!core_internal::IsValidUtf8(m.ordering_key)) {
    return bad(absl::StrCat("ordering key '", core_internal::Shown(m.ordering_key),
                            "' is not valid UTF-8; ordering keys and attributes must be UTF-8 on "
                            "every backend"));
  }
  if (m.ordering_key.size() > caps.max_ordering_key_bytes) {
    return bad(absl::StrCat("its ordering key has ", m.ordering_key.size(), " bytes; ",
                            caps.backend, " allows at most ", caps.max_ordering_key_bytes));
  }
  if (const std::size_t size = m.ByteSize(); size > caps.max_message_bytes) {
    return bad(absl::StrCat("it has ", size, " bytes (data, attributes and ordering key); ",
                            caps.backend, " delivers at most ", caps.max_message_bytes,
                            " (Capabilities::max_message_bytes); split it, or store the payload "
                            "elsewhere and publish a reference"));
  }
  return absl::OkStatus();
}

std::vector<PublishFuture> Publisher::PublishMany(std::vector<Message> messages) {
  std::vector<PublishFuture> out(messages.size());
  std::vector<Message> valid;
  std::vector<std::size_t> where;  // valid[k] is messages[where[k]]
  valid.reserve(messages.size());
  where.reserve(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (rules_ != nullptr) {
      if (absl::Status s =
              ValidateForPublish(messages[i], rules_->caps, rules_->topic, rules_->allow_reserved);
          !s.ok()) {
        out[i] = MakeReadyFuture<absl::StatusOr<MessageId>>(std::move(s));
        continue;
      }
    }
    valid.push_back(std::move(messages[i]));
    where.push_back(i);
  }
  if (valid.empty()) return out;
  std::vector<PublishFuture> sent = conn_->PublishMany(std::move(valid));
  for (std::size_t k = 0; k < where.size(); ++k) {
    out[where[k]] = k < sent.size() ? std::move(sent[k])
                                    : MakeReadyFuture<absl::StatusOr<MessageId>>(
                                          absl::InternalError("backend returned too few futures"));
  }
  return out;
}

}  // namespace unibus
