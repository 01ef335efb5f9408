// A minimal consumer: prints messages of a subscription until none comes for 2 s.
//   consumer [URL] TOPIC SUBSCRIPTION
#include <iostream>

#include "unibus/unibus.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: consumer [URL] TOPIC SUBSCRIPTION\n";
    return 2;
  }
  const bool has_url = std::string(argv[1]).find("://") != std::string::npos;
  auto broker = unibus::Broker::Open(has_url ? argv[1] : unibus::DefaultUrl());
  if (!broker.ok()) {
    std::cerr << broker.status() << "\n";
    return 1;
  }
  int first = has_url ? 2 : 1;
  auto subscriber = broker->subscriber(
      argv[first + 1], {.topic = argv[first], .start = unibus::StartPosition::kEarliest});
  if (!subscriber.ok()) {
    std::cerr << subscriber.status() << "\n";
    return 1;
  }
  for (;;) {
    auto batch = subscriber->Pull(100, absl::Seconds(2));
    if (!batch.ok() || batch->empty()) break;
    for (auto& [message, ack] : *batch) {
      std::cout << message.data << "\n";
      std::move(ack).ack();
    }
  }
  return 0;
}
