#include "sqlite/sqlite_test_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace unibus::sqlite_internal {

TempDb::TempDb() {
  static std::atomic<int> n{0};
  path_ = absl::StrCat(testing::TempDir(), "/unibus-sqlite-test-", getpid(), "-", n++, ".db");
  std::filesystem::remove(path_);
}

TempDb::~TempDb() {
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
}

DbConfig TempDb::config() const {
  DbConfig c;
  c.path = path_;
  c.url = url();
  return c;
}

std::unique_ptr<Db> OpenDb(const DbConfig& config) {
  auto db = Db::Open(config);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? *std::move(db) : nullptr;
}

std::shared_ptr<SqliteAdmin> MakeAdmin(const DbConfig& config) {
  return std::make_shared<SqliteAdmin>(OpenDb(config));
}
std::shared_ptr<SqliteSink> MakeSink(const DbConfig& config) {
  return std::make_shared<SqliteSink>(OpenDb(config));
}
std::shared_ptr<SqliteSource> MakeSource(const DbConfig& config, const std::string& sub,
                                         const std::string& topic, absl::Duration ack_deadline) {
  return std::make_shared<SqliteSource>(OpenDb(config), sub, topic, ack_deadline);
}

void PublishRange(SqliteSink& sink, const std::string& topic, const std::string& prefix, int from,
                  int to) {
  std::vector<Message> batch;
  for (int i = from; i < to; ++i)
    batch.push_back(MessageBuilder{}.data(absl::StrCat(prefix, i)).build());
  auto ids = sink.PublishBatch(topic, batch);
  ASSERT_TRUE(ids.ok()) << ids.status();
  ASSERT_EQ(ids->size(), batch.size());
  for (auto& id : *ids) ASSERT_TRUE(id.ok()) << id.status();
}

std::vector<core_internal::Delivery> FetchN(SqliteSource& source, std::size_t n,
                                            absl::Duration wait) {
  std::vector<core_internal::Delivery> out;
  while (out.size() < n) {
    auto got = source.Fetch(n - out.size(), 1 << 30, wait);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok() || got->empty()) break;
    for (auto& d : *got) out.push_back(std::move(d));
  }
  return out;
}

std::vector<std::string> Tokens(const std::vector<core_internal::Delivery>& ds) {
  std::vector<std::string> out;
  out.reserve(ds.size());
  for (const auto& d : ds) out.push_back(d.token);
  return out;
}

std::vector<std::string> Data(const std::vector<core_internal::Delivery>& ds) {
  std::vector<std::string> out;
  out.reserve(ds.size());
  for (const auto& d : ds) out.push_back(d.message.data);
  return out;
}

std::int64_t RawQuery(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  DbHandle owner(db);
  sqlite3_stmt* s = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr);
  EXPECT_EQ(rc, SQLITE_OK) << sqlite3_errmsg(db) << " in " << sql;
  StmtHandle stmt(s);
  const int step = sqlite3_step(s);
  EXPECT_TRUE(step == SQLITE_ROW || step == SQLITE_DONE) << sqlite3_errmsg(db) << " in " << sql;
  return step == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
}

absl::Status WriteEarlierLayout(const std::string& path) {
  static constexpr char kEarlier[] = R"sql(
CREATE TABLE unibus_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
  next_seq INTEGER NOT NULL DEFAULT 1, retention_ms INTEGER NOT NULL,
  retention_messages INTEGER NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE messages(topic_id INTEGER NOT NULL, seq INTEGER NOT NULL,
  publish_us INTEGER NOT NULL, ordering_key TEXT, attributes BLOB, data BLOB NOT NULL,
  PRIMARY KEY(topic_id, seq)) WITHOUT ROWID;
CREATE TABLE subscriptions(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
  topic_id INTEGER NOT NULL, cursor INTEGER NOT NULL, ack_deadline_ms INTEGER NOT NULL,
  dead_letter_topic TEXT NOT NULL, max_delivery_attempts INTEGER NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE INDEX subscriptions_by_topic ON subscriptions(topic_id);
CREATE TABLE leases(sub_id INTEGER NOT NULL, seq INTEGER NOT NULL,
  deadline_ms INTEGER NOT NULL, attempts INTEGER NOT NULL,
  PRIMARY KEY(sub_id, seq)) WITHOUT ROWID;
INSERT INTO unibus_meta VALUES('schema_version', '1'), ('created_by', 'unibus');
PRAGMA application_id = 1431193922;
PRAGMA user_version = 1;
)sql";
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open(path.c_str(), &raw);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, &sqlite3_close);
  if (rc != SQLITE_OK) return absl::InternalError(absl::StrCat("opening ", path));
  if (sqlite3_exec(raw, kEarlier, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return absl::InternalError(absl::StrCat("writing the earlier schema: ", sqlite3_errmsg(raw)));
  }
  return absl::OkStatus();
}

}  // namespace unibus::sqlite_internal
