// A helper process for multiprocess_test.cc, on one sqlite file:
//   publish URL TOPIC PREFIX COUNT   publishes PREFIX0..PREFIX<COUNT-1>
//   consume URL SUBSCRIPTION TOPIC EXPECTED OUT
//       pulls and acks, appending each message's data as a line to OUT (written
//       before the ack), until the topic holds EXPECTED messages and the
//       subscription's backlog is empty.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "unibus/unibus.h"

namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "helper: %s\n", s.ToString().c_str());
  return 1;
}

int Publish(const std::string& url, const std::string& topic, const std::string& prefix,
            int count) {
  auto broker = unibus::Broker::Open(url);
  if (!broker.ok()) return Fail(broker.status());
  auto pub = broker->publisher(topic, {.max_batch_messages = 200});
  if (!pub.ok()) return Fail(pub.status());
  for (int i = 0; i < count; ++i)
    pub->Publish(unibus::MessageBuilder{}.data(absl::StrCat(prefix, i)).build());
  if (auto s = pub->Flush(); !s.ok()) return Fail(s);
  return 0;
}

int Consume(const std::string& url, const std::string& sub, const std::string& topic, int expected,
            const std::string& out_path) {
  auto broker = unibus::Broker::Open(url);
  if (!broker.ok()) return Fail(broker.status());
  auto subscriber = broker->subscriber(sub, {.max_outstanding_messages = 300});
  if (!subscriber.ok()) return Fail(subscriber.status());
  std::FILE* out = std::fopen(out_path.c_str(), "w");
  if (out == nullptr) return Fail(absl::InternalError("cannot write " + out_path));
  const absl::Time end = absl::Now() + absl::Seconds(90);
  while (absl::Now() < end) {
    auto got = subscriber->Pull(100, absl::Milliseconds(100));
    if (!got.ok()) return Fail(got.status());
    for (auto& m : *got) std::fprintf(out, "%s\n", m.message.data.c_str());
    std::fflush(out);
    for (auto& m : *got) std::move(m.ack).ack();
    if (!got->empty()) continue;
    auto topic_info = broker->admin().DescribeTopic(topic);
    auto sub_info = broker->admin().DescribeSubscription(sub);
    if (!topic_info.ok()) return Fail(topic_info.status());
    if (!sub_info.ok()) return Fail(sub_info.status());
    if (topic_info->messages >= expected && sub_info->backlog == 0) break;
  }
  subscriber->Shutdown();
  std::fclose(out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "publish" && argc == 6) return Publish(argv[2], argv[3], argv[4], std::atoi(argv[5]));
  if (mode == "consume" && argc == 7)
    return Consume(argv[2], argv[3], argv[4], std::atoi(argv[5]), argv[6]);
  std::fprintf(
      stderr,
      "usage: %s publish URL TOPIC PREFIX COUNT | consume URL SUBSCRIPTION TOPIC EXPECTED OUT\n",
      argv[0]);
  return 2;
}
