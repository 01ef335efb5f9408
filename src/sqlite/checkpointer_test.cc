// WAL checkpoints run on the checkpointer's thread, the WAL stays bounded, and the
// file is left whole (WAL checkpointed and removed) when the last connection closes.
#include "sqlite/checkpointer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sqlite/db.h"
#include "sqlite/sqlite_test_util.h"
#include "sqlite/store.h"

namespace unibus::sqlite_internal {
namespace {

using Conn = DbHandle;

Conn OpenWal(const std::string& path) {
  sqlite3* raw = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  Conn db(raw);
  EXPECT_EQ(sqlite3_exec(raw, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  return db;
}

// Waits (bounded) for `c` to have run at least `n` checkpoints.
bool WaitForCheckpoints(const WalCheckpointer& c, std::int64_t n) {
  for (int i = 0; i < 1000 && c.checkpoints() < n; ++i) absl::SleepFor(absl::Milliseconds(10));
  return c.checkpoints() >= n;
}

// The names of this process's threads (Linux: /proc/self/task/*/comm).
std::multiset<std::string> ThreadNames() {
  std::multiset<std::string> names;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) names.insert(name);
  }
  return names;
}

// top -H, perf and gdb tell the checkpointer's thread apart by its name.
TEST(CheckpointerTest, ItsThreadIsNamed) {
  TempDb file;
  Conn writer = OpenWal(file.path());
  EXPECT_EQ(ThreadNames().count("ub-checkpoint"), 0u);
  auto c = WalCheckpointer::Start(file.path(), false);
  ASSERT_TRUE(c.ok()) << c.status();
  std::size_t named = 0;
  for (int i = 0; i < 500 && named == 0; ++i) {
    named = ThreadNames().count("ub-checkpoint");
    if (named == 0) absl::SleepFor(absl::Milliseconds(2));
  }
  EXPECT_EQ(named, 1u);
  c->reset();
  EXPECT_EQ(ThreadNames().count("ub-checkpoint"), 0u);
}

TEST(CheckpointerTest, CheckpointsOnItsThreadAndTheWalRestarts) {
  TempDb file;
  Conn writer = OpenWal(file.path());
  ASSERT_EQ(sqlite3_exec(writer.get(), "CREATE TABLE t(v BLOB)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  constexpr int kWalPages = 8;
  auto c = WalCheckpointer::Start(file.path(), false, kWalPages);
  ASSERT_TRUE(c.ok()) << c.status();
  (*c)->Attach(writer.get());
  // Commits of a page or two each. The thread checkpoints behind them; once the WAL
  // passes the inline limit a commit checkpoints the rest itself and the next one
  // restarts the WAL. Bounded by commits, not time.
  const std::string row = "INSERT INTO t VALUES(zeroblob(3000))";
  int rows = 0;
  for (; rows < 20000 && ((*c)->restarts() < 2 || (*c)->checkpoints() < 1); ++rows) {
    ASSERT_EQ(sqlite3_exec(writer.get(), row.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  }
  EXPECT_GE((*c)->restarts(), 2);
  EXPECT_GE((*c)->checkpoints(), 1);
  // Every committed row is in the file once the last connection closed.
  writer.reset();
  c->reset();
  EXPECT_FALSE(std::filesystem::exists(file.path() + "-wal"));
  EXPECT_EQ(RawQuery(file.path(), "SELECT COUNT(*) FROM t"), rows);
}

// The broker's connections hand their checkpoints to the file's checkpointer, and
// the last one to close leaves no WAL behind.
TEST(CheckpointerTest, BrokerConnectionsUseTheFilesCheckpointer) {
  TempDb file;
  {
    auto admin = MakeAdmin(file.config());
    auto created = admin->CreateTopic(TopicConfig{.name = "big"});
    ASSERT_TRUE(created.ok()) << created;
    auto sink = MakeSink(file.config());
    auto db = OpenDb(file.config());
    ASSERT_NE(db, nullptr);
    FileState& state = db->file();  // shared with the admin's and the sink's connections
    {
      std::lock_guard<std::mutex> lock(state.checkpointer_mu);
      ASSERT_NE(state.checkpointer, nullptr);
    }
    // ~6 MB of messages: past SQLite's 1000-page limit several times.
    std::vector<Message> batch;
    for (int i = 0; i < 500; ++i)
      batch.push_back(MessageBuilder{}.data(std::string(1000, 'x')).build());
    for (int round = 0; round < 12; ++round) {
      auto ids = sink->PublishBatch("big", batch);
      ASSERT_TRUE(ids.ok()) << ids.status();
    }
    std::lock_guard<std::mutex> lock(state.checkpointer_mu);
    EXPECT_TRUE(WaitForCheckpoints(*state.checkpointer, 1));
  }
  EXPECT_FALSE(std::filesystem::exists(file.path() + "-wal"));
  EXPECT_EQ(RawQuery(file.path(), "SELECT COUNT(*) FROM messages"), 6000);
}

}  // namespace
}  // namespace unibus::sqlite_internal
