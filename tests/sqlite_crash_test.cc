// Two processes on one sqlite file: a `unibus consume` process is killed with SIGKILL
// mid-stream; a second consumer finishes the subscription; nothing is lost.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "conformance/checker.h"
#include "nlohmann/json.hpp"
#include "unibus/unibus.h"

extern char** environ;

namespace unibus {
namespace {

TEST(SqliteCrashTest, KilledConsumerLosesNothing) {
  const std::string path = absl::StrCat(testing::TempDir(), "/crash-", getpid(), ".db");
  const std::string url = "sqlite://" + path;
  auto broker = Broker::Open(url);
  ASSERT_TRUE(broker.ok()) << broker.status();
  ASSERT_TRUE(broker->admin().CreateTopic("crash-topic").ok());
  ASSERT_TRUE(broker->admin()
                  .CreateSubscription({.name = "crash-sub",
                                       .topic = "crash-topic",
                                       .start = StartPosition::kEarliest,
                                       .ack_deadline = absl::Seconds(2)})
                  .ok());
  const int n = 20000;
  conformance::Checker checker;
  {
    auto pub = broker->publisher("crash-topic");
    ASSERT_TRUE(pub.ok());
    for (int i = 0; i < n; ++i) {
      checker.Expect(absl::StrCat("m", i));
      pub->Publish(MessageBuilder{}.data(absl::StrCat("m", i)).build());
    }
    ASSERT_TRUE(pub->Flush().ok());
  }

  // The child consumer writes each message to a pipe we read slowly: once the pipe is
  // full it blocks mid-stream, and we kill it there.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::vector<std::string> args = {
      UNIBUS_CLI_PATH, "consume", "--url",          url, "-s", "crash-sub",
      "--format",      "json",    "--ack-deadline", "2s"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t child;
  ASSERT_EQ(posix_spawn(&child, UNIBUS_CLI_PATH, &actions, nullptr, argv.data(), environ), 0);
  close(fds[1]);
  FILE* in = fdopen(fds[0], "r");
  ASSERT_NE(in, nullptr);
  char line[4096];
  int child_printed = 0;
  while (child_printed < 2000 && std::fgets(line, sizeof line, in) != nullptr) {
    checker.Receive(nlohmann::json::parse(line)["data"].get<std::string>());
    ++child_printed;
  }
  ASSERT_EQ(child_printed, 2000) << "the consumer process ended early";
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status));
  // Whatever it fully printed before dying counts as seen (it may not have been acked:
  // then it comes again, a duplicate, never a loss).
  while (std::fgets(line, sizeof line, in) != nullptr) {
    if (std::string(line).back() != '\n') break;  // a torn last line
    checker.Receive(nlohmann::json::parse(line)["data"].get<std::string>());
    ++child_printed;
  }
  fclose(in);

  auto sub = broker->subscriber("crash-sub", {.ack_deadline = absl::Seconds(2)});
  ASSERT_TRUE(sub.ok()) << sub.status();
  const absl::Time end = absl::Now() + absl::Seconds(60);
  while (checker.distinct() < n && absl::Now() < end) {
    auto got = sub->Pull(1000, absl::Milliseconds(200));
    ASSERT_TRUE(got.ok()) << got.status();
    for (auto& m : *got) {
      checker.Receive(m.message.data);
      std::move(m.ack).ack();
    }
  }
  auto r = checker.Report();
  EXPECT_EQ(r.lost, 0) << "of " << n << "; the killed consumer printed " << child_printed;
  EXPECT_EQ(r.unexpected, 0);
  std::cout << "killed consumer printed " << child_printed << ", second consumer finished; lost "
            << r.lost << ", duplicated " << r.duplicated << "\n";
  sub->Shutdown();
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace unibus
