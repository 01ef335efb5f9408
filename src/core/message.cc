#include "unibus/message.h"

namespace unibus {

std::size_t Message::ByteSize() const {
  std::size_t n = data.size() + ordering_key.size();
  for (const auto& [k, v] : attributes) n += k.size() + v.size();
  return n;
}

std::string Message::attribute(std::string_view key, std::string_view fallback) const {
  auto it = attributes.find(std::string(key));
  return it == attributes.end() ? std::string(fallback) : it->second;
}

}  // namespace unibus
