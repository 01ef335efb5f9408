// Publishes and receives one message through an installed unibus, then one typed
// message through the installed unibus::typed.
#include <google/protobuf/wrappers.pb.h>

#include <iostream>

#include "unibus/typed.h"
#include "unibus/unibus.h"

int main() {
  auto broker = unibus::Broker::Open("mem://find-package");
  if (!broker.ok()) return 1;
  if (!broker->admin().CreateTopic("greetings").ok()) return 2;
  auto sub = broker->subscriber("greeters",
                                {.topic = "greetings", .start = unibus::StartPosition::kEarliest});
  auto pub = broker->publisher("greetings");
  if (!sub.ok() || !pub.ok()) return 3;
  if (!pub->Publish(unibus::MessageBuilder{}.data("hello").build()).get().ok()) return 4;
  auto got = sub->Pull(1, absl::Seconds(5));
  if (!got.ok() || got->size() != 1 || (*got)[0].message.data != "hello") return 5;
  std::move((*got)[0].ack).ack();

  google::protobuf::StringValue value;
  value.set_value("typed hello");
  unibus::TypedPublisher<google::protobuf::StringValue> typed_pub(*pub);
  if (!typed_pub.Publish(value).get().ok()) return 6;
  unibus::TypedSubscriber<google::protobuf::StringValue> typed_sub(*sub);
  auto typed = typed_sub.Pull(1, absl::Seconds(5));
  if (!typed.ok() || typed->size() != 1 || (*typed)[0].value.value() != "typed hello") return 7;
  std::move((*typed)[0].ack).ack();
  std::cout << "received " << (*got)[0].message.data << ", " << (*typed)[0].value.value() << "\n";
  return 0;
}
