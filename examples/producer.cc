// A minimal producer: publishes its arguments to a topic.
//   producer [URL] TOPIC MESSAGE...      (URL defaults to $UNIBUS_URL or sqlite://unibus.db)
#include <iostream>

#include "unibus/unibus.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: producer [URL] TOPIC MESSAGE...\n";
    return 2;
  }
  const bool has_url = std::string(argv[1]).find("://") != std::string::npos;
  auto broker = unibus::Broker::Open(has_url ? argv[1] : unibus::DefaultUrl());
  if (!broker.ok()) {
    std::cerr << broker.status() << "\n";
    return 1;
  }
  int first = has_url ? 2 : 1;
  auto publisher = broker->publisher(argv[first], {.create_topic_if_missing = true});
  if (!publisher.ok()) {
    std::cerr << publisher.status() << "\n";
    return 1;
  }
  std::vector<unibus::PublishFuture> results;
  for (int i = first + 1; i < argc; ++i) {
    results.push_back(publisher->Publish(unibus::MessageBuilder{}.data(argv[i]).build()));
  }
  for (auto& r : results) {
    if (!r.get().ok()) {
      std::cerr << r.get().status() << "\n";
      return 1;
    }
    std::cout << "published " << *r.get() << "\n";
  }
  return 0;
}
