// Typed publish/subscribe of protobuf messages over any backend (link unibus::typed).
//
// Attributes set on every typed message:
//   content-type       application/x-protobuf or application/json
//   unibus-type        the full protobuf name, e.g. unibus.vision.ImageMessage
//   unibus-encoding    zstd when the payload was compressed (absent otherwise)
//   traceparent        W3C trace context (kept if the caller set one)
//   unibus-produced-at RFC 3339 time the message was encoded
#ifndef UNIBUS_TYPED_H_
#define UNIBUS_TYPED_H_

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/message.h"
#include "unibus/unibus.h"

namespace unibus {

inline constexpr char kContentType[] = "content-type";
inline constexpr char kProtobufContentType[] = "application/x-protobuf";
inline constexpr char kJsonContentType[] = "application/json";
inline constexpr char kTypeAttribute[] = "unibus-type";
inline constexpr char kEncodingAttribute[] = "unibus-encoding";
inline constexpr char kTraceparentAttribute[] = "traceparent";
inline constexpr char kProducedAtAttribute[] = "unibus-produced-at";

// The most bytes a zstd-encoded payload may decompress to (10 MiB, the message-size
// limit of the contract): DecodeTyped refuses a payload whose frame declares more, or
// that turns out to hold more, before allocating beyond it.
inline constexpr std::size_t kMaxDecompressedBytes = std::size_t{10} << 20;

struct TypedOptions {
  bool json = false;                  // encode as JSON instead of binary protobuf
  std::size_t compress_above = 4096;  // zstd-compress payloads larger than this; 0 = never
  int zstd_level = 1;
};

// Encodes `value` into a Message with the typed attributes. `attributes` are added
// (a "traceparent" there is kept; otherwise a new one is made).
absl::StatusOr<Message> EncodeTyped(const google::protobuf::Message& value,
                                    const TypedOptions& options, std::string ordering_key = {},
                                    std::map<std::string, std::string> attributes = {});

// Decodes `m` into `out`: checks unibus-type matches out's type (a message without
// it is accepted if it parses), undoes zstd (at most kMaxDecompressedBytes; the reason
// names the declared size and the limit), parses binary or JSON per content-type.
// InvalidArgument saying what is wrong otherwise (for the dead-letter reason).
absl::Status DecodeTyped(const Message& m, google::protobuf::Message* out);

template <typename T>
class TypedPublisher {
 public:
  explicit TypedPublisher(Publisher p, TypedOptions options = {})
      : p_(std::move(p)), options_(options) {}

  PublishFuture Publish(const T& value, std::string ordering_key = {},
                        std::map<std::string, std::string> attributes = {}) {
    auto m = EncodeTyped(value, options_, std::move(ordering_key), std::move(attributes));
    if (!m.ok()) return MakeReadyFuture<absl::StatusOr<MessageId>>(m.status());
    return p_.Publish(*std::move(m));
  }
  // Publish for several values at once (Publisher::PublishMany: a batching backend
  // stores them in one transaction). One future per value, in order. `ordering_keys`
  // is empty (no keys) or holds one key per value; any other size fails every
  // future with InvalidArgument.
  std::vector<PublishFuture> PublishMany(const std::vector<T>& values,
                                         const std::vector<std::string>& ordering_keys = {}) {
    std::vector<PublishFuture> out(values.size());
    if (!ordering_keys.empty() && ordering_keys.size() != values.size()) {
      for (auto& f : out) {
        f = MakeReadyFuture<absl::StatusOr<MessageId>>(absl::InvalidArgumentError(
            absl::StrCat("PublishMany: ", ordering_keys.size(), " ordering keys for ",
                         values.size(), " values; give none or one per value")));
      }
      return out;
    }
    std::vector<Message> messages;
    std::vector<std::size_t> where;  // messages[k] encodes values[where[k]]
    messages.reserve(values.size());
    where.reserve(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      auto m = EncodeTyped(values[i], options_, ordering_keys.empty() ? "" : ordering_keys[i]);
      if (!m.ok()) {
        out[i] = MakeReadyFuture<absl::StatusOr<MessageId>>(m.status());
        continue;
      }
      messages.push_back(*std::move(m));
      where.push_back(i);
    }
    // Publisher::PublishMany returns one future per message it was given.
    std::vector<PublishFuture> sent = p_.PublishMany(std::move(messages));
    for (std::size_t k = 0; k < where.size(); ++k) out[where[k]] = std::move(sent[k]);
    return out;
  }
  [[nodiscard]] absl::Status Flush() { return p_.Flush(); }
  Publisher& untyped() { return p_; }

 private:
  Publisher p_;
  TypedOptions options_;
};

// A decoded message with its envelope (attributes, id, timings) and its ack handle.
template <typename T>
struct Typed {
  T value;
  Message envelope;  // data cleared
  AckHandler ack;
};

template <typename T>
class TypedSubscriber {
 public:
  explicit TypedSubscriber(Subscriber s) : s_(std::move(s)) {}

  // Like Subscriber::Subscribe. A message that is not a T, or does not parse, is
  // rejected to the dead-letter topic with the reason; the handler never sees it.
  [[nodiscard]] absl::StatusOr<Session> Subscribe(std::function<void(Typed<T>)> handler) {
    return s_.Subscribe([handler = std::move(handler)](Message m, AckHandler h) {
      Typed<T> t;
      if (auto s = DecodeTyped(m, &t.value); !s.ok()) {
        std::move(h).reject(std::string(s.message()));
        return;
      }
      m.data.clear();
      t.envelope = std::move(m);
      t.ack = std::move(h);
      handler(std::move(t));
    });
  }

  // Like Subscriber::Pull; undecodable messages are rejected and not returned.
  [[nodiscard]] absl::StatusOr<std::vector<Typed<T>>> Pull(std::size_t max,
                                                           absl::Duration timeout) {
    auto got = s_.Pull(max, timeout);
    if (!got.ok()) return got.status();
    std::vector<Typed<T>> out;
    out.reserve(got->size());
    for (auto& p : *got) {
      Typed<T> t;
      if (auto s = DecodeTyped(p.message, &t.value); !s.ok()) {
        std::move(p.ack).reject(std::string(s.message()));
        continue;
      }
      p.message.data.clear();
      t.envelope = std::move(p.message);
      t.ack = std::move(p.ack);
      out.push_back(std::move(t));
    }
    return out;
  }
  Subscriber& untyped() { return s_; }

 private:
  Subscriber s_;
};

}  // namespace unibus

#endif  // UNIBUS_TYPED_H_
