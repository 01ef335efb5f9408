// Interop with an independent client: the emulator's REST API driven by curl.
#include <gtest/gtest.h>

#include <cstdio>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "pubsub/emulator_testing.h"
#include "unibus/unibus.h"

namespace unibus::pubsub_internal {
namespace {

// Runs curl with `args`; returns its stdout, or an error when curl is missing or fails.
absl::StatusOr<std::string> Curl(const std::string& args) {
  const std::string cmd = absl::StrCat("curl -sS --fail-with-body --max-time 20 ", args, " 2>&1");
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return absl::InternalError("popen failed");
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  const int rc = pclose(f);
  if (rc != 0) return absl::InternalError(absl::StrCat("`", cmd, "` failed (", rc, "): ", out));
  return out;
}

bool HaveCurl() { return system("curl --version > /dev/null 2>&1") == 0; }

TEST(PubsubInterop, RestPublishedMessagesReachUnibus) {
  UNIBUS_NEED_EMULATOR(emu);
  if (!HaveCurl()) GTEST_SKIP() << "curl not installed, REST interop test skipped";
  const std::string project = FreshProject();
  auto b = Broker::Open(emu->Url(project));
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE(b->admin().CreateTopic("rest-in").ok());
  auto sub = b->subscriber("rest-in-sub", SubscriberOptions{.topic = "rest-in"});
  ASSERT_TRUE(sub.ok()) << sub.status();
  nlohmann::json body;
  for (int i = 0; i < 3; ++i) {
    body["messages"].push_back({{"data", absl::Base64Escape(absl::StrCat("from curl ", i))},
                                {"attributes", {{"source", "curl"}, {"i", absl::StrCat(i)}}},
                                {"orderingKey", "rest"}});
  }
  auto r = Curl(absl::StrCat("-X POST -H 'content-type: application/json' -d '", body.dump(),
                             "' http://", emu->host_port(), "/v1/projects/", project,
                             "/topics/rest-in:publish"));
  ASSERT_TRUE(r.ok()) << r.status();
  auto ids = nlohmann::json::parse(*r)["messageIds"];
  ASSERT_EQ(ids.size(), 3u) << *r;

  std::vector<Message> got;
  const absl::Time end = absl::Now() + absl::Seconds(30);
  while (got.size() < 3 && absl::Now() < end) {
    auto p = sub->Pull(10, absl::Milliseconds(200));
    ASSERT_TRUE(p.ok()) << p.status();
    for (auto& m : *p) {
      got.push_back(m.message);
      std::move(m.ack).ack();
    }
  }
  ASSERT_EQ(got.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].data, absl::StrCat("from curl ", i));  // one key: in order
    EXPECT_EQ(got[i].attribute("source"), "curl");
    EXPECT_EQ(got[i].ordering_key, "rest");
    EXPECT_EQ(got[i].id, ids[i].get<std::string>());
  }
}

TEST(PubsubInterop, UnibusPublishedMessagesReachRestPull) {
  UNIBUS_NEED_EMULATOR(emu);
  if (!HaveCurl()) GTEST_SKIP() << "curl not installed, REST interop test skipped";
  const std::string project = FreshProject();
  auto b = Broker::Open(emu->Url(project));
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE(b->admin().CreateTopic("rest-out").ok());
  ASSERT_TRUE(
      b->admin()
          .CreateSubscription(SubscriptionConfig{.name = "rest-out-sub", .topic = "rest-out"})
          .ok());
  auto p = b->publisher("rest-out");
  ASSERT_TRUE(p.ok());
  auto id = p->Publish(MessageBuilder{}
                           .data(std::string("bytes \0\xff ok", 10))
                           .attribute("k", "v")
                           .ordering_key("o")
                           .build())
                .get();
  ASSERT_TRUE(id.ok()) << id.status();

  const std::string base = absl::StrCat("http://", emu->host_port(), "/v1/projects/", project,
                                        "/subscriptions/rest-out-sub");
  nlohmann::json msgs = nlohmann::json::array();
  const absl::Time end = absl::Now() + absl::Seconds(20);
  while (msgs.empty() && absl::Now() < end) {
    auto r = Curl(absl::StrCat(
        "-X POST -H 'content-type: application/json' -d '{\"maxMessages\":10}' ", base, ":pull"));
    ASSERT_TRUE(r.ok()) << r.status();
    auto j = nlohmann::json::parse(*r);
    if (j.contains("receivedMessages")) msgs = j["receivedMessages"];
  }
  ASSERT_EQ(msgs.size(), 1u);
  const auto& m = msgs[0]["message"];
  std::string data;
  ASSERT_TRUE(absl::Base64Unescape(m["data"].get<std::string>(), &data));
  EXPECT_EQ(data, std::string("bytes \0\xff ok", 10));
  EXPECT_EQ(m["attributes"]["k"], "v");
  EXPECT_EQ(m["orderingKey"], "o");
  EXPECT_EQ(m["messageId"], *id);
  nlohmann::json ack = {{"ackIds", {msgs[0]["ackId"]}}};
  ASSERT_TRUE(Curl(absl::StrCat("-X POST -H 'content-type: application/json' -d '", ack.dump(),
                                "' ", base, ":acknowledge"))
                  .ok());
}

}  // namespace
}  // namespace unibus::pubsub_internal
