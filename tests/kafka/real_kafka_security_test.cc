// kafka:// against a secured Apache Kafka broker: one KRaft node started once for this
// binary by `scripts/kafka.sh start --security sasl_ssl` (a SASL_SSL listener with
// SCRAM-SHA-512 and PLAIN, a CA and broker certificate made with openssl, the
// StandardAuthorizer)
// with three users whose ACLs Kafka's own AclCommand grants:
//   alice: READ and WRITE on topics "sec-*", READ on groups "alice-*"
//   bob:   READ on groups "bob-*", nothing on any topic
//   carol: READ on topics "sec-*", nothing on any group
// Right credentials work through URL options and a client.properties file with ${ENV}
// secrets; a wrong password is Unauthenticated at once; a missing ACL is
// PermissionDenied naming the resource and the ACL; no password appears in any status,
// log line or output.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>

#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "kafka/real_cluster.h"
#include "spdlog/logger.h"
#include "spdlog/sinks/ostream_sink.h"
#include "unibus/unibus.h"

namespace unibus::kafka_testing {
namespace {

std::string RandomSecret(const std::string& prefix) {
  std::random_device rd;
  return absl::StrCat(prefix, "-", absl::Hex(rd(), absl::kZeroPad8),
                      absl::Hex(rd(), absl::kZeroPad8));
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// What the whole binary shares: the cluster, the users' passwords, and everything
// the library said (statuses and log lines), checked for secrets at the end.
struct Shared {
  std::unique_ptr<RealCluster> cluster;
  absl::Status status = absl::UnknownError("not started");
  std::map<std::string, std::string> passwords;  // user -> password
  std::string wrong_password = RandomSecret("wrong");
  std::ostringstream log;
  std::shared_ptr<spdlog::logger> logger;
  std::string said;  // every status message the tests saw
};
Shared* shared = nullptr;

class SecuredClusterEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    shared = new Shared();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(shared->log);
    shared->logger = std::make_shared<spdlog::logger>("security-test", sink);
    shared->logger->set_level(spdlog::level::trace);
    const absl::Time t0 = absl::Now();
    std::vector<std::string> options = {"--security", "sasl_ssl"};
    for (const char* user : {"alice", "bob", "carol"}) {
      shared->passwords[user] = RandomSecret(user);
      options.insert(options.end(), {"--user", absl::StrCat(user, ":", shared->passwords[user])});
    }
    auto c = RealCluster::Start(1, options);
    shared->status = c.status();
    if (!c.ok()) return;
    shared->cluster = *std::move(c);
    shared->passwords["admin"] =
        ReadFile(shared->cluster->dir() + "/cluster/security/admin.password");
    while (!shared->passwords["admin"].empty() && shared->passwords["admin"].back() == '\n') {
      shared->passwords["admin"].pop_back();
    }
    std::fprintf(
        stderr, "real_kafka_security_test: running on %s (SASL_SSL) after %s\n",
        shared->cluster->description().c_str(),
        absl::FormatDuration(absl::Trunc(absl::Now() - t0, absl::Milliseconds(100))).c_str());
    // The topics, as the super user.
    BrokerOptions o;
    o.logger = shared->logger;
    auto admin = Broker::Open(
        absl::StrCat(shared->cluster->url(), "?config_file=", shared->cluster->admin_properties()),
        o);
    if (!admin.ok()) {
      shared->status = admin.status();
      return;
    }
    for (const char* topic : {"sec-url", "sec-file", "sec-scram", "sec-denied"}) {
      absl::Status s = admin->admin().CreateTopic(topic);
      if (!s.ok()) {
        shared->status = s;
        return;
      }
    }
    // The ACLs, with Kafka's own tool.
    const std::vector<std::vector<std::string>> acls = {
        {"--allow-principal", "User:alice", "--producer", "--consumer", "--topic", "sec-",
         "--group", "alice-"},
        {"--allow-principal", "User:bob", "--operation", "READ", "--group", "bob-"},
        {"--allow-principal", "User:carol", "--operation", "READ", "--topic", "sec-"},
    };
    for (const auto& acl : acls) {
      std::vector<std::string> args = {"--bootstrap-server",
                                       shared->cluster->bootstrap(),
                                       "--command-config",
                                       shared->cluster->admin_tool_properties(),
                                       "--add",
                                       "--resource-pattern-type",
                                       "prefixed"};
      args.insert(args.end(), acl.begin(), acl.end());
      auto out = shared->cluster->Tool("org.apache.kafka.tools.AclCommand", args);
      if (!out.ok()) {
        shared->status = out.status();
        return;
      }
      shared->said += *out;
    }
    std::fprintf(
        stderr, "real_kafka_security_test: topics and ACLs ready after %s\n",
        absl::FormatDuration(absl::Trunc(absl::Now() - t0, absl::Milliseconds(100))).c_str());
  }
  void TearDown() override {
    delete shared;
    shared = nullptr;
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new SecuredClusterEnv);

class RealKafkaSecurity : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(shared->status.ok())
        << "the secured Kafka cluster did not start: " << shared->status;
  }

  // kafka://HOST:PORT?security.protocol=SASL_SSL&...&sasl.password=...
  static std::string UrlFor(const std::string& user, const std::string& password,
                            const std::string& mechanism = "PLAIN") {
    return absl::StrCat(shared->cluster->url(),
                        "?security.protocol=SASL_SSL&sasl.mechanisms=", mechanism,
                        "&sasl.username=", user, "&sasl.password=", password,
                        "&ssl.ca.location=", shared->cluster->ca_file(),
                        "&session.timeout.ms=6000&heartbeat.interval.ms=500");
  }

  static absl::StatusOr<Broker> Open(const std::string& url) {
    BrokerOptions o;
    o.logger = shared->logger;
    auto b = Broker::Open(url, o);
    Said(b.status());
    return b;
  }

  static void Said(const absl::Status& s) { shared->said += s.ToString() + "\n"; }

  // Publishes `n` messages to `topic` and reads them back as `subscription`.
  static void PublishAndConsume(Broker& broker, const std::string& topic,
                                const std::string& subscription, int n) {
    auto p = broker.publisher(topic);
    Said(p.status());
    ASSERT_TRUE(p.ok()) << p.status();
    std::set<std::string> sent;
    for (int i = 0; i < n; ++i) {
      const std::string data = absl::StrCat(subscription, "/", i);
      sent.insert(data);
      auto id = p->Publish(MessageBuilder{}.data(data).build()).get();
      Said(id.status());
      ASSERT_TRUE(id.ok()) << id.status();
    }
    SubscriberOptions so;
    so.topic = topic;
    so.start = StartPosition::kEarliest;
    auto sub = broker.subscriber(subscription, so);
    Said(sub.status());
    ASSERT_TRUE(sub.ok()) << sub.status();
    std::set<std::string> got;
    for (const absl::Time end = absl::Now() + absl::Seconds(30);
         got.size() < sent.size() && absl::Now() < end;) {
      auto r = sub->Pull(100, absl::Milliseconds(200));
      Said(r.status());
      ASSERT_TRUE(r.ok()) << r.status();
      for (auto& m : *r) {
        got.insert(m.message.data);
        std::move(m.ack).ack();
      }
    }
    EXPECT_EQ(got, sent);
    sub->Shutdown();
  }
};

TEST_F(RealKafkaSecurity, RightCredentialsInTheUrlPublishAndConsume) {
  auto b = Open(UrlFor("alice", shared->passwords["alice"]));
  ASSERT_TRUE(b.ok()) << b.status();
  PublishAndConsume(*b, "sec-url", "alice-url", 5);
}

// SCRAM-SHA-512: librdkafka before 2.6.1 computes a proof Kafka 4 refuses
// (librdkafka#4895), so with the right password it is Unauthenticated there, with a
// message that says so; elsewhere it works.
TEST_F(RealKafkaSecurity, ScramWorksOrSaysWhyNot) {
  auto b = Open(UrlFor("alice", shared->passwords["alice"], "SCRAM-SHA-512"));
  const bool kafka4 = absl::StrContains(shared->cluster->description(), "Apache Kafka 4.") ||
                      absl::StrContains(shared->cluster->description(), "Apache Kafka 5.");
  if (kafka4 && rd_kafka_version() < 0x020601ff) {
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.status().code(), absl::StatusCode::kUnauthenticated) << b.status();
    EXPECT_TRUE(absl::StrContains(b.status().message(), "librdkafka#4895")) << b.status();
    EXPECT_TRUE(absl::StrContains(b.status().message(), "sasl.mechanisms=PLAIN")) << b.status();
    std::fprintf(stderr, "SCRAM with librdkafka %s: %s\n", rd_kafka_version_str(),
                 b.status().ToString().c_str());
  } else {
    ASSERT_TRUE(b.ok()) << b.status();
    PublishAndConsume(*b, "sec-scram", "alice-scram", 3);
  }
}

TEST_F(RealKafkaSecurity, RightCredentialsInAClientPropertiesFileWithEnvSecrets) {
  const std::string file = shared->cluster->dir() + "/alice.properties";
  {
    std::ofstream f(file);
    f << "# alice, her password from the environment\n"
      << "security.protocol=SASL_SSL\n"
      << "sasl.mechanisms=PLAIN\n"
      << "sasl.username=alice\n"
      << "sasl.password=${UNIBUS_TEST_ALICE_PASSWORD}\n"
      << "ssl.ca.location=" << shared->cluster->ca_file() << "\n";
  }
  EXPECT_FALSE(absl::StrContains(ReadFile(file), shared->passwords["alice"]));
  setenv("UNIBUS_TEST_ALICE_PASSWORD", shared->passwords["alice"].c_str(), 1);
  auto b = Open(absl::StrCat(shared->cluster->url(), "?config_file=", file));
  unsetenv("UNIBUS_TEST_ALICE_PASSWORD");
  ASSERT_TRUE(b.ok()) << b.status();
  PublishAndConsume(*b, "sec-file", "alice-file", 5);
}

// The librdkafka scripts/librdkafka.sh builds is the one this tree links by default
// (-DUNIBUS_RDKAFKA=system is the exception): SCRAM must work with it.
TEST_F(RealKafkaSecurity, LinkedLibrdkafkaDoesScramWithKafka4) {
#ifndef UNIBUS_RDKAFKA_SYSTEM
  EXPECT_GE(rd_kafka_version(), 0x020601ff)
      << "linked librdkafka " << rd_kafka_version_str()
      << " predates the SCRAM fix (librdkafka#4895); scripts/librdkafka.sh builds 2.12.0";
#endif
  std::fprintf(stderr, "linked librdkafka %s\n", rd_kafka_version_str());
}

TEST_F(RealKafkaSecurity, WrongPasswordIsUnauthenticatedAtOnce) {
  const bool scram = rd_kafka_version() >= 0x020601ff;
  for (const auto& [user, mechanism] : std::vector<std::pair<std::string, std::string>>{
           {"alice", "PLAIN"}, {"nobody", "PLAIN"}, {"alice", "SCRAM-SHA-512"}}) {
    if (mechanism != "PLAIN" && !scram) continue;  // see ScramWorksOrSaysWhyNot
    const absl::Time start = absl::Now();
    auto b = Open(UrlFor(user, shared->wrong_password, mechanism));
    const absl::Duration took = absl::Now() - start;
    ASSERT_FALSE(b.ok()) << user;
    EXPECT_EQ(b.status().code(), absl::StatusCode::kUnauthenticated) << b.status();
    EXPECT_TRUE(absl::StrContains(b.status().message(), "authentication failed")) << b.status();
    EXPECT_TRUE(absl::StrContains(b.status().message(), "sasl.username=" + user)) << b.status();
    EXPECT_TRUE(absl::StrContains(b.status().message(), "sasl.password")) << b.status();
    // The failure is the broker's answer, not a connect timeout (10 s) or a hang.
    EXPECT_LT(took, absl::Seconds(8)) << b.status();
    EXPECT_TRUE(absl::StrContains(b.status().message(), "sasl.mechanisms=" + mechanism))
        << b.status();
    std::fprintf(stderr, "wrong %s password for %s, after %s: %s\n", mechanism.c_str(),
                 user.c_str(),
                 absl::FormatDuration(absl::Trunc(took, absl::Milliseconds(1))).c_str(),
                 b.status().ToString().c_str());
  }
}

TEST_F(RealKafkaSecurity, NoReadOnTheTopicIsPermissionDeniedNamingTopicAndAcl) {
  auto b = Open(UrlFor("bob", shared->passwords["bob"]));
  ASSERT_TRUE(b.ok()) << b.status();
  SubscriberOptions so;
  so.topic = "sec-denied";
  auto sub = b->subscriber("bob-readers", so);
  Said(sub.status());
  ASSERT_FALSE(sub.ok());
  EXPECT_EQ(sub.status().code(), absl::StatusCode::kPermissionDenied) << sub.status();
  for (const char* part : {"'sec-denied'", "User:bob", "operation READ", "resource type TOPIC",
                           "TOPIC_AUTHORIZATION_FAILED",
                           "--allow-principal User:bob --operation READ --topic sec-denied"}) {
    EXPECT_TRUE(absl::StrContains(sub.status().message(), part)) << part << ": " << sub.status();
  }
  std::fprintf(stderr, "bob subscribes: %s\n", sub.status().ToString().c_str());
  auto p = b->publisher("sec-denied");
  Said(p.status());
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kPermissionDenied) << p.status();
  EXPECT_TRUE(absl::StrContains(p.status().message(), "'sec-denied'")) << p.status();
}

TEST_F(RealKafkaSecurity, NoReadOnTheGroupIsPermissionDeniedNamingTheGroup) {
  auto b = Open(UrlFor("carol", shared->passwords["carol"]));
  ASSERT_TRUE(b.ok()) << b.status();
  SubscriberOptions so;
  so.topic = "sec-url";
  so.start = StartPosition::kEarliest;
  auto sub = b->subscriber("carol-readers", so);
  Said(sub.status());
  absl::Status denied = sub.status();
  for (const absl::Time end = absl::Now() + absl::Seconds(30); denied.ok() && absl::Now() < end;) {
    auto r = sub->Pull(10, absl::Milliseconds(200));
    Said(r.status());
    if (!r.ok()) denied = r.status();
    if (r.ok()) {
      EXPECT_TRUE(r->empty()) << "carol read without READ on her group";
    }
  }
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied) << denied;
  for (const char* part : {"'carol-readers'", "User:carol", "operation READ", "resource type GROUP",
                           "GROUP_AUTHORIZATION_FAILED",
                           "--allow-principal User:carol --operation READ --group carol-readers"}) {
    EXPECT_TRUE(absl::StrContains(denied.message(), part)) << part << ": " << denied;
  }
  std::fprintf(stderr, "carol pulls: %s\n", denied.ToString().c_str());
  if (sub.ok()) sub->Shutdown();
}

// Last: everything the library and the fixture said above holds no password.
TEST_F(RealKafkaSecurity, NoSecretInAnyStatusLogLineOrOutput) {
  shared->logger->flush();
  const std::string dir = shared->cluster->dir() + "/cluster";
  const std::vector<std::pair<std::string, std::string>> outputs = {
      {"statuses", shared->said},
      {"library log", shared->log.str()},
      {"kafka.sh start output", shared->cluster->start_output()},
      {"broker log", ReadFile(dir + "/node-1/kafka.log")},
      {"format log", ReadFile(dir + "/node-1/format.log")},
  };
  ASSERT_FALSE(shared->said.empty());
  EXPECT_TRUE(absl::StrContains(shared->said, "PERMISSION_DENIED")) << "the tests above ran";
  EXPECT_TRUE(absl::StrContains(outputs[3].second, "Kafka Server started"));
  auto secrets = shared->passwords;
  secrets["wrong"] = shared->wrong_password;
  for (const auto& [user, password] : secrets) {
    ASSERT_GE(password.size(), 16u) << user;
    for (const auto& [what, text] : outputs) {
      EXPECT_FALSE(absl::StrContains(text, password)) << user << "'s password in the " << what;
    }
  }
}

}  // namespace
}  // namespace unibus::kafka_testing
