#include "kafka/record.h"

#include <cstring>

#include "kafka/common.h"

namespace unibus::kafka_internal {
namespace {
constexpr std::size_t kTokenSize = 15;
}  // namespace

std::string TokenOf(std::int32_t partition, std::int64_t offset, std::uint64_t epoch) {
  char buf[kTokenSize];
  const std::uint32_t e = static_cast<std::uint32_t>(epoch & 0xFFFFFF);
  std::memcpy(buf, &partition, 4);
  std::memcpy(buf + 4, &offset, 8);
  std::memcpy(buf + 12, &e, 3);
  return std::string(buf, kTokenSize);
}

bool ParseToken(const std::string& token, std::int32_t* partition, std::int64_t* offset,
                std::uint64_t* epoch) {
  if (token.size() != kTokenSize) return false;
  std::uint32_t e = 0;
  std::memcpy(partition, token.data(), 4);
  std::memcpy(offset, token.data() + 4, 8);
  std::memcpy(&e, token.data() + 12, 3);
  *epoch = e;
  return true;
}

HeadersPtr HeadersOf(const std::map<std::string, std::string>& attributes) {
  if (attributes.empty()) return nullptr;
  HeadersPtr headers(rd_kafka_headers_new(attributes.size()));
  for (const auto& [k, v] : attributes) {
    // data() of an empty std::string is not null: an empty value is an empty header.
    rd_kafka_header_add(headers.get(), k.data(), static_cast<ssize_t>(k.size()), v.data(),
                        static_cast<ssize_t>(v.size()));
  }
  return headers;
}

void ReadHeaders(const rd_kafka_headers_t* headers, std::map<std::string, std::string>* out) {
  if (headers == nullptr) return;
  const char* name;
  const void* value;
  size_t size;
  for (size_t i = 0;
       rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
       ++i) {
    // In order: a later header of the same name replaces an earlier one.
    (*out)[name] =
        value == nullptr ? std::string() : std::string(static_cast<const char*>(value), size);
  }
}

void ToMessage(const rd_kafka_message_t* m, Message* out) {
  if (m->payload != nullptr) out->data.assign(static_cast<const char*>(m->payload), m->len);
  if (m->key != nullptr) out->ordering_key.assign(static_cast<const char*>(m->key), m->key_len);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ReadHeaders(headers, &out->attributes);
  }
  rd_kafka_timestamp_type_t ts_type;
  const std::int64_t ts = rd_kafka_message_timestamp(m, &ts_type);
  if (ts >= 0) out->publish_time = absl::FromUnixMillis(ts);
  out->id = MessageIdOf(m->partition, m->offset);
  out->delivery_attempt = 1;
}

}  // namespace unibus::kafka_internal
