// A JSON request/response worker. A client publishes {"op":"sum","a":1,"b":2} to
// "requests" with a "reply-to" attribute and a "correlation-id"; the worker answers
// {"result":3} (or {"error":"..."}) on the reply topic. Bad requests get an error
// reply and are acked: nothing is lost, nothing loops.
//   json_worker [URL] --demo     runs a client and the worker together and exits
#include <iostream>
#include <thread>

#include "nlohmann/json.hpp"
#include "unibus/unibus.h"

namespace {

nlohmann::json Handle(const std::string& request) {
  auto j = nlohmann::json::parse(request, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return {{"error", "request is not a JSON object"}};
  if (j.value("op", "") != "sum") return {{"error", "unknown op; supported: sum"}};
  if (!j.contains("a") || !j.contains("b") || !j["a"].is_number() || !j["b"].is_number()) {
    return {{"error", "sum needs numbers a and b"}};
  }
  return {{"result", j["a"].get<double>() + j["b"].get<double>()}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string url = unibus::DefaultUrl();
  bool demo = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--demo")
      demo = true;
    else
      url = a;
  }
  auto broker = unibus::Broker::Open(url);
  if (!broker.ok()) {
    std::cerr << broker.status() << "\n";
    return 1;
  }
  for (const char* t : {"requests", "replies"}) {
    auto s = broker->admin().CreateTopic(t);
    if (!s.ok() && !absl::IsAlreadyExists(s)) {
      std::cerr << s << "\n";
      return 1;
    }
  }
  auto requests = broker->subscriber(
      "sum-workers", {.topic = "requests", .start = unibus::StartPosition::kEarliest});
  auto replies = broker->subscriber(
      "sum-client", {.topic = "replies", .start = unibus::StartPosition::kEarliest});
  auto reply_pub = broker->publisher("replies");
  if (!requests.ok() || !replies.ok() || !reply_pub.ok()) return 1;

  // The worker: answer each request on its reply-to topic, ack once the reply is out.
  auto session = requests->Subscribe([&](unibus::Message m, unibus::AckHandler ack) {
    auto reply = unibus::MessageBuilder{}
                     .data(Handle(m.data).dump())
                     .attribute("correlation-id", m.attribute("correlation-id"))
                     .attribute("content-type", "application/json")
                     .build();
    reply_pub->Publish(std::move(reply))
        .then([a = std::make_shared<unibus::AckHandler>(std::move(ack))](
                  const absl::StatusOr<unibus::MessageId>& r) {
          if (r.ok())
            std::move(*a).ack();
          else
            std::move(*a).nack(std::string(r.status().message()));
        });
  });
  if (!session.ok()) return 1;
  if (!demo) {
    std::cout << "worker running on " << broker->url() << "; Ctrl-C to stop\n";
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }

  // The client side of the demo: three requests, three replies.
  auto client = broker->publisher("requests");
  if (!client.ok()) return 1;
  const char* reqs[] = {R"({"op":"sum","a":2,"b":40})", R"({"op":"sum","a":1.5,"b":1})",
                        R"({"op":"mul"})"};
  for (int i = 0; i < 3; ++i) {
    (void)client->Publish(unibus::MessageBuilder{}
                              .data(reqs[i])
                              .attribute("correlation-id", std::to_string(i))
                              .build());
  }
  const std::map<std::string, std::string> want = {
      {"0", R"({"result":42.0})"},
      {"1", R"({"result":2.5})"},
      {"2", R"({"error":"unknown op; supported: sum"})"}};
  int answered = 0, wrong = 0;
  while (answered < 3) {
    auto got = replies->Pull(10, absl::Seconds(10));
    if (!got.ok() || got->empty()) break;
    for (auto& [m, ack] : *got) {
      std::cout << "reply " << m.attribute("correlation-id") << ": " << m.data << "\n";
      if (want.at(m.attribute("correlation-id", "0")) != m.data) ++wrong;
      std::move(ack).ack();
      ++answered;
    }
  }
  session->Stop();
  return answered == 3 && wrong == 0 ? 0 : 1;
}
