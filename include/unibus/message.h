// Messages: the value type every backend publishes and delivers.
#ifndef UNIBUS_MESSAGE_H_
#define UNIBUS_MESSAGE_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "absl/time/time.h"
#include "unibus/export.h"

namespace unibus {

// A message: a plain value, cheap to move, safe to copy.
//
// `data`, `attributes` and `ordering_key` are set by the publisher. `id`,
// `publish_time` and `delivery_attempt` are set by the broker and the library on
// delivery; values a publisher puts there are ignored.
struct UNIBUS_EXPORT Message {
  std::string data;                               // the payload, any bytes
  std::map<std::string, std::string> attributes;  // string key/value metadata
  std::string ordering_key;  // same key: delivered one at a time, in publish order
  std::string id;            // set on receipt: unique within the topic
  absl::Time publish_time = absl::InfinitePast();  // set on receipt by the broker
  int delivery_attempt = 0;  // 1 on first delivery, counts up on each redelivery
  std::string topic;         // set on delivery: the topic it was published to

  // Size counted against batching and flow-control limits: data, attributes, key.
  std::size_t ByteSize() const;

  // Returns the attribute `key`, or `fallback` when it is absent.
  std::string attribute(std::string_view key, std::string_view fallback = {}) const;
};

// Builds a Message so that it reads like a sentence:
//   MessageBuilder{}.data("hello").attribute("k", "v").ordering_key("img-7").build()
class UNIBUS_EXPORT MessageBuilder {
 public:
  MessageBuilder& data(std::string d) & {
    m_.data = std::move(d);
    return *this;
  }
  MessageBuilder&& data(std::string d) && {
    m_.data = std::move(d);
    return std::move(*this);
  }
  MessageBuilder& attribute(std::string k, std::string v) & {
    m_.attributes[std::move(k)] = std::move(v);
    return *this;
  }
  MessageBuilder&& attribute(std::string k, std::string v) && {
    m_.attributes[std::move(k)] = std::move(v);
    return std::move(*this);
  }
  MessageBuilder& ordering_key(std::string k) & {
    m_.ordering_key = std::move(k);
    return *this;
  }
  MessageBuilder&& ordering_key(std::string k) && {
    m_.ordering_key = std::move(k);
    return std::move(*this);
  }
  Message build() && { return std::move(m_); }
  Message build() const& { return m_; }

 private:
  Message m_;
};

// Attribute names the library itself sets on dead-lettered messages.
inline constexpr char kDeadLetterReason[] = "unibus-dead-letter-reason";
inline constexpr char kDeadLetterSourceTopic[] = "unibus-source-topic";
inline constexpr char kDeadLetterSourceSubscription[] = "unibus-source-subscription";
inline constexpr char kDeadLetterAttempts[] = "unibus-delivery-attempts";

}  // namespace unibus

#endif  // UNIBUS_MESSAGE_H_
