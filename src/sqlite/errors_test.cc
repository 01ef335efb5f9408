// Bad input on sqlite:// gets a clear error and loses nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sqlite/sqlite_test_util.h"
#include "unibus/unibus.h"

namespace unibus::sqlite_internal {
namespace {

using ::testing::HasSubstr;

absl::Status OpenStatus(const std::string& url) { return Broker::Open(url).status(); }

TEST(UrlErrorsTest, BadUrlsAreInvalidArgument) {
  for (const std::string url :
       {"sqlite://", "sqlite://:memory:", "sqlite://x.db?busy_timeout_ms=soon",
        "sqlite://x.db?synchronous=sometimes", "sqlite://x.db?colour=blue"}) {
    auto s = OpenStatus(url);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << url << ": " << s;
  }
  EXPECT_THAT(std::string(OpenStatus("sqlite://x.db?colour=blue").message()),
              HasSubstr("busy_timeout_ms"));
  EXPECT_THAT(std::string(OpenStatus("sqlite://").message()), HasSubstr("sqlite:///abs/path.db"));
}

TEST(UrlErrorsTest, MissingDirectoryIsFailedPrecondition) {
  auto s = OpenStatus("sqlite:///no/such/dir/unibus.db");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("/no/such/dir/unibus.db"));
}

TEST(UrlErrorsTest, RelativeAndAbsolutePathsAndParameters) {
  TempDb db;
  auto abs =
      Broker::Open(absl::StrCat("sqlite://", db.path(), "?busy_timeout_ms=250&synchronous=full"));
  ASSERT_TRUE(abs.ok()) << abs.status();
  EXPECT_TRUE(abs->admin().CreateTopic("orders").ok());
  // A relative path resolves against the working directory.
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(std::filesystem::path(db.path()).parent_path());
  auto rel =
      Broker::Open(absl::StrCat("sqlite://", std::filesystem::path(db.path()).filename().string()));
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(rel.ok()) << rel.status();
  EXPECT_EQ(*rel->admin().ListTopics(), std::vector<std::string>{"orders"});
}

TEST(FileErrorsTest, NotASqliteFileIsRefusedAndUntouched) {
  TempDb db;
  const std::string text = "name,price\napple,3\n" + std::string(5000, 'x');
  std::ofstream(db.path()) << text;
  auto s = OpenStatus(db.url());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("not a SQLite database"));
  EXPECT_THAT(std::string(s.message()), HasSubstr(db.path()));
  std::ifstream in(db.path());
  std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(after, text);
}

TEST(FileErrorsTest, AnotherApplicationsDatabaseIsRefusedAndUntouched) {
  TempDb db;
  RawQuery(db.path(), "CREATE TABLE people(name TEXT)");
  auto s = OpenStatus(db.url());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("not a unibus database"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("people"));
  EXPECT_EQ(RawQuery(db.path(), "SELECT count(*) FROM sqlite_schema"), 1);
}

// Processes that start together on a new file (`unibus sink` and `unibus classify` as
// services) all open it: none mistakes the file another one is creating for another
// application's database. The check used to read the stamp and the table list as two
// statements; a schema committed between them looked foreign (stamp 0, tables present),
// and `classify` failed that way in a CI run.
TEST(FileErrorsTest, ProcessesCreatingOneNewFileTogetherAllOpenIt) {
  constexpr int kRounds = 30, kProcesses = 6;
  int failed = 0;
  std::string first_error;
  for (int round = 0; round < kRounds; ++round) {
    TempDb db;
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::vector<pid_t> children;
    for (int i = 0; i < kProcesses; ++i) {
      const pid_t child = fork();
      ASSERT_GE(child, 0);
      if (child == 0) {
        close(fds[0]);
        auto broker = Broker::Open(db.url());
        if (!broker.ok()) {
          const std::string out(broker.status().message());
          (void)!write(fds[1], out.data(), std::min<std::size_t>(out.size(), 512));
          _exit(1);
        }
        _exit(0);
      }
      children.push_back(child);
    }
    close(fds[1]);
    for (pid_t child : children) {
      int status = 0;
      ASSERT_EQ(waitpid(child, &status, 0), child);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
    }
    char buf[512];
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n > 0 && first_error.empty()) first_error.assign(buf, static_cast<std::size_t>(n));
    close(fds[0]);
  }
  EXPECT_EQ(failed, 0) << "of " << kRounds * kProcesses << " opens; first error: " << first_error;
}

TEST(FileErrorsTest, NewerSchemaIsRefused) {
  TempDb db;
  ASSERT_TRUE(Broker::Open(db.url()).ok());
  RawQuery(db.path(), "PRAGMA user_version = 7");
  auto s = OpenStatus(db.url());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("newer unibus (schema version 7"));
}

TEST(FileErrorsTest, CorruptFileIsDataLoss) {
  TempDb db;
  {
    auto broker = Broker::Open(db.url());
    ASSERT_TRUE(broker.ok());
    ASSERT_TRUE(broker->admin().CreateTopic("orders").ok());
  }
  // Every connection is closed, so the WAL was checkpointed into the file. Scribble
  // over the schema page past the 100-byte header.
  {
    std::fstream f(db.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    const std::string junk(3000, '\xA5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto s = OpenStatus(db.url());
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(".recover"));
}

TEST(FileErrorsTest, LockedBeyondBusyTimeoutIsUnavailableAndWritesNothing) {
  TempDb db;
  auto broker = Broker::Open(db.url() + "?busy_timeout_ms=100");
  ASSERT_TRUE(broker.ok()) << broker.status();
  ASSERT_TRUE(broker->admin().CreateTopic("orders").ok());
  auto pub = broker->publisher("orders");
  ASSERT_TRUE(pub.ok());
  // Another connection (standing in for another process) holds the write lock.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.path().c_str(), &raw), SQLITE_OK);
  DbHandle other(raw);
  ASSERT_EQ(sqlite3_exec(raw, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto r = pub->Publish(MessageBuilder{}.data("x").build()).get();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(db.path()));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("another process"));
  EXPECT_EQ(broker->admin().CreateTopic("more").code(), absl::StatusCode::kUnavailable);
  ASSERT_EQ(sqlite3_exec(raw, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_EQ(RawQuery(db.path(), "SELECT count(*) FROM messages"), 0);
  ASSERT_TRUE(pub->Publish(MessageBuilder{}.data("y").build()).get().ok());
  EXPECT_EQ(RawQuery(db.path(), "SELECT count(*) FROM messages"), 1);
}

// Runs Broker::Open(url) plus a topic creation in a child process that cannot
// write `path` (as user nobody when we are root, who bypasses file modes); returns
// the status code and message it saw.
std::pair<int, std::string> OpenAsUnprivileged(const std::string& url) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(99);
    auto broker = Broker::Open(url);
    absl::Status s = broker.ok() ? broker->admin().CreateTopic("orders") : broker.status();
    const std::string out = absl::StrCat(static_cast<int>(s.code()), "|", s.message());
    if (write(fds[1], out.data(), out.size()) < 0) _exit(98);
    _exit(0);
  }
  close(fds[1]);
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const auto bar = got.find('|');
  if (bar == std::string::npos) return {-1, got};
  return {std::stoi(got.substr(0, bar)), got.substr(bar + 1)};
}

TEST(FileErrorsTest, ReadOnlyFileIsPermissionDenied) {
  const std::string dir = absl::StrCat(testing::TempDir(), "/unibus-ro-", getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/ro.db";
  ASSERT_TRUE(Broker::Open("sqlite://" + path).ok());  // made, then closed
  chmod(path.c_str(), 0444);
  chmod(dir.c_str(), 0777);
  auto [code, message] = OpenAsUnprivileged("sqlite://" + path);
  EXPECT_EQ(code, static_cast<int>(absl::StatusCode::kPermissionDenied)) << message;
  EXPECT_THAT(message, HasSubstr("write access"));
  EXPECT_THAT(message, HasSubstr(path));
  std::filesystem::remove_all(dir);
}

TEST(FileErrorsTest, ReadOnlyDirectoryIsPermissionDeniedOrFailedPrecondition) {
  const std::string dir = absl::StrCat(testing::TempDir(), "/unibus-rodir-", getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/ro.db";
  ASSERT_TRUE(Broker::Open("sqlite://" + path).ok());
  chmod(path.c_str(), 0666);
  chmod(dir.c_str(), 0555);  // the -wal and -shm files cannot be created
  auto [code, message] = OpenAsUnprivileged("sqlite://" + path);
  EXPECT_TRUE(code == static_cast<int>(absl::StatusCode::kPermissionDenied) ||
              code == static_cast<int>(absl::StatusCode::kFailedPrecondition))
      << code << ": " << message;
  EXPECT_THAT(message, HasSubstr(path));
  chmod(dir.c_str(), 0755);
  std::filesystem::remove_all(dir);
}

TEST(ApiErrorsTest, MissingTopicAndSubscriptionAreNotFound) {
  TempDb db;
  auto broker = Broker::Open(db.url());
  ASSERT_TRUE(broker.ok());
  auto p = broker->publisher("orders");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(p.status().message()),
              HasSubstr(absl::StrCat("topic 'orders' does not exist on ", db.url(),
                                     "; create it (unibus topics create orders)")));
  auto s = broker->subscriber("billing");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("subscription 'billing' does not exist"));
  // With a topic, a missing subscription is created there; the topic must exist.
  EXPECT_EQ(broker->subscriber("billing", {.topic = "orders"}).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(broker->publisher("orders", {.create_topic_if_missing = true}).ok());
  ASSERT_TRUE(broker->subscriber("billing", {.topic = "orders"}).ok());
  EXPECT_EQ(broker->subscriber("billing", {.topic = "payments"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A name unibus would create follows the portable rule; one it only uses need not.
  EXPECT_EQ(broker->publisher("bad name").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(broker->publisher("bad name", {.create_topic_if_missing = true}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(broker->subscriber("x", {.topic = "orders"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ApiErrorsTest, OversizedMessageIsInvalidArgumentAndStoresNothing) {
  TempDb db;
  BrokerOptions options;
  options.max_message_bytes = 1000;
  auto broker = Broker::Open(db.url(), options);
  ASSERT_TRUE(broker.ok());
  auto pub = broker->publisher("orders", {.create_topic_if_missing = true});
  ASSERT_TRUE(pub.ok());
  auto big = pub->Publish(MessageBuilder{}.data(std::string(1001, 'x')).build()).get();
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument) << big.status();
  ASSERT_TRUE(pub->Publish(MessageBuilder{}.data(std::string(1000, 'x')).build()).get().ok());
  EXPECT_EQ(RawQuery(db.path(), "SELECT count(*) FROM messages"), 1);
}

}  // namespace
}  // namespace unibus::sqlite_internal
