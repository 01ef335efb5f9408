// Interop with an independent Kafka client: kcat publishes (with key and headers)
// and unibus consumes; unibus publishes and kcat reads payload, key and headers.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kafka/mock_cluster.h"
#include "unibus/unibus.h"

namespace unibus::kafka_internal {
namespace {

bool HaveKcat() { return std::system("command -v kcat >/dev/null 2>&1") == 0; }

// Runs `cmd` through the shell; returns its stdout, or nullopt on failure.
std::optional<std::string> Shell(const std::string& cmd) {
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return std::nullopt;
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), f)) out.append(buf, n);
  if (pclose(f) != 0) return std::nullopt;
  return out;
}

class KcatInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveKcat())
      GTEST_SKIP() << "kcat is not installed (apt-get install kcat); interop not tested";
    auto c = MockCluster::Start(1);
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = *std::move(c);
    ASSERT_TRUE(cluster_->CreateTopic("interop", 1).ok());
    auto b = Broker::Open(absl::StrCat(cluster_->url(), "?session.timeout.ms=6000"));
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::make_unique<Broker>(*b);
  }
  std::unique_ptr<MockCluster> cluster_;
  std::unique_ptr<Broker> broker_;
};

TEST_F(KcatInterop, KcatPublishesUnibusConsumes) {
  const std::string input = ::testing::TempDir() + "/kcat-input.txt";
  {
    std::ofstream f(input);
    f << "img-1|first payload\nimg-2|second payload\n";
  }
  auto out = Shell(absl::StrCat("kcat -P -b ", cluster_->bootstrap(),
                                " -t interop -K '|' -H content-type=text/plain -H origin=kcat -l ",
                                input, " 2>&1"));
  ASSERT_TRUE(out.has_value()) << "kcat -P failed";
  SubscriberOptions o;
  o.topic = "interop";
  o.start = StartPosition::kEarliest;
  auto sub = broker_->subscriber("from-kcat", o);
  ASSERT_TRUE(sub.ok()) << sub.status();
  std::map<std::string, Message> got;
  const absl::Time end = absl::Now() + absl::Seconds(20);
  while (got.size() < 2 && absl::Now() < end) {
    auto r = sub->Pull(10, absl::Milliseconds(200));
    ASSERT_TRUE(r.ok()) << r.status();
    for (auto& m : *r) {
      got[m.message.ordering_key] = m.message;
      std::move(m.ack).ack();
    }
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got["img-1"].data, "first payload");
  EXPECT_EQ(got["img-2"].data, "second payload");
  EXPECT_EQ(got["img-1"].attribute("content-type"), "text/plain");
  EXPECT_EQ(got["img-1"].attribute("origin"), "kcat");
  EXPECT_EQ(got["img-1"].topic, "interop");
  EXPECT_FALSE(got["img-1"].id.empty());
}

TEST_F(KcatInterop, UnibusPublishesKcatReads) {
  auto p = broker_->publisher("interop");
  ASSERT_TRUE(p.ok()) << p.status();
  auto r = p->Publish(MessageBuilder{}
                          .data("hello kcat")
                          .ordering_key("img-7")
                          .attribute("traceparent", "00-abc")
                          .attribute("unibus-type", "demo.Image")
                          .build())
               .get();
  ASSERT_TRUE(r.ok()) << r.status();
  auto out = Shell(absl::StrCat(
      "kcat -C -b ", cluster_->bootstrap(),
      " -t interop -o beginning -e -q -f 'key=%k|value=%s|headers=%h\\n' 2>/dev/null"));
  ASSERT_TRUE(out.has_value()) << "kcat -C failed";
  EXPECT_NE(out->find("key=img-7|value=hello kcat|"), std::string::npos) << *out;
  EXPECT_NE(out->find("traceparent=00-abc"), std::string::npos) << *out;
  EXPECT_NE(out->find("unibus-type=demo.Image"), std::string::npos) << *out;
}

}  // namespace
}  // namespace unibus::kafka_internal
