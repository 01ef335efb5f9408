// Two publisher processes and two consumer processes share one sqlite file at
// once; a checker counts lost and duplicated messages.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "conformance/checker.h"
#include "unibus/unibus.h"

extern char** environ;

namespace unibus {
namespace {

pid_t Spawn(std::vector<std::string> args) {
  args.insert(args.begin(), UNIBUS_SQLITE_HELPER);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, UNIBUS_SQLITE_HELPER, nullptr, nullptr, argv.data(), environ), 0);
  return pid;
}

TEST(SqliteMultiProcessTest, TwoPublishersAndTwoConsumersLoseNothing) {
  const std::string dir = absl::StrCat(testing::TempDir(), "/unibus-mp-", getpid());
  std::filesystem::create_directories(dir);
  const std::string url = absl::StrCat("sqlite://", dir, "/shared.db");
  {
    auto broker = Broker::Open(url);
    ASSERT_TRUE(broker.ok()) << broker.status();
    ASSERT_TRUE(broker->admin().CreateTopic("orders").ok());
    ASSERT_TRUE(broker->admin()
                    .CreateSubscription(
                        {.name = "billing", .topic = "orders", .start = StartPosition::kEarliest})
                    .ok());
  }
  constexpr int kPerPublisher = 20000;
  conformance::Checker checker;
  for (const char* p : {"a", "b"}) {
    for (int i = 0; i < kPerPublisher; ++i) checker.Expect(absl::StrCat(p, i));
  }
  const std::string expected = absl::StrCat(2 * kPerPublisher);
  std::vector<pid_t> pids = {
      Spawn({"consume", url, "billing", "orders", expected, dir + "/c1.txt"}),
      Spawn({"consume", url, "billing", "orders", expected, dir + "/c2.txt"}),
      Spawn({"publish", url, "orders", "a", absl::StrCat(kPerPublisher)}),
      Spawn({"publish", url, "orders", "b", absl::StrCat(kPerPublisher)}),
  };
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "helper " << pid << " status " << status;
  }
  int per_consumer[2] = {0, 0};
  for (int c = 0; c < 2; ++c) {
    std::ifstream in(absl::StrCat(dir, "/c", c + 1, ".txt"));
    std::string line;
    while (std::getline(in, line)) {
      checker.Receive(line);
      ++per_consumer[c];
    }
  }
  auto r = checker.Report();
  EXPECT_EQ(r.lost, 0);
  EXPECT_EQ(r.duplicated, 0);
  EXPECT_EQ(r.unexpected, 0);
  EXPECT_GT(per_consumer[0], 0) << "both consumers should share the work";
  EXPECT_GT(per_consumer[1], 0) << "both consumers should share the work";
  std::cout << "consumers got " << per_consumer[0] << " + " << per_consumer[1] << "; lost "
            << r.lost << ", duplicated " << r.duplicated << "\n";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace unibus
