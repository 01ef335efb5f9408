// Publishing batches and retention.
#include "sqlite/sink.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "sqlite/common.h"
#include "sqlite/db.h"
#include "sqlite/sqlite_test_util.h"

namespace unibus::sqlite_internal {
namespace {

TEST(SinkTest, IdsCountUpPerTopic) {
  TempDb db;
  auto admin = MakeAdmin(db.config());
  ASSERT_TRUE(admin->CreateTopic(TopicConfig{.name = "first"}).ok());
  ASSERT_TRUE(admin->CreateTopic(TopicConfig{.name = "second"}).ok());
  auto sink = MakeSink(db.config());
  std::vector<Message> batch(3);
  auto a = sink->PublishBatch("first", batch);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*(*a)[0], "1");
  EXPECT_EQ(*(*a)[2], "3");
  auto b = sink->PublishBatch("second", batch);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*(*b)[0], "1");
  auto c = sink->PublishBatch("first", batch);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*(*c)[0], "4");
}

TEST(SinkTest, ConnectionsReadTheFileThroughAMapping) {
  TempDb tmp;
  auto db = Db::Open(tmp.config());
  ASSERT_TRUE(db.ok()) << db.status();
  auto q = (*db)->Prepare("PRAGMA mmap_size");
  ASSERT_TRUE(q.ok()) << q.status();
  StmtScope s(*q);
  ASSERT_EQ(s->Step(), SQLITE_ROW);
  // Without it every connection re-reads, by pread, the pages another one's commit
  // made stale in its cache.
  EXPECT_EQ(s->Int(0), 268435456);
}

// An exception in a body becomes that write's error; the file goes on taking writes.
TEST(SinkTest, AWriteThatThrowsReturnsAnError) {
  TempDb tmp;
  auto db = OpenDb(tmp.config());
  absl::Status s = db->Write([]() -> absl::Status { throw std::runtime_error("out of luck"); });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
  EXPECT_NE(s.message().find("out of luck"), std::string_view::npos) << s;
  EXPECT_TRUE(db->Write([&] { return db->Exec("CREATE TABLE t(x INTEGER)"); }).ok());
}

// What Db::Write runs on: the file's one writer connection, whoever writes.
TEST(SinkTest, WritesOfAllConnectionsToAFileRunOnOneConnection) {
  TempDb tmp;
  auto a = OpenDb(tmp.config());
  auto b = OpenDb(tmp.config());
  sqlite3* in_a = nullptr;
  sqlite3* in_b = nullptr;
  ASSERT_TRUE(a->Write([&] {
                 in_a = a->handle();
                 return a->Exec("CREATE TABLE t(x BLOB)");
               }).ok());
  ASSERT_TRUE(b->Write([&] {
                 in_b = b->handle();
                 return absl::OkStatus();
               }).ok());
  EXPECT_EQ(in_a, in_b);
  // Outside Write each Db reads on its own connection.
  EXPECT_NE(a->handle(), in_a);
  EXPECT_NE(a->handle(), b->handle());
}

// Why: SQLite empties a connection's page cache when another connection committed
// since its last transaction. Two writers taking turns on their own connections
// re-read their pages on every write (a cache miss or more each); on one
// connection the pages stay cached.
TEST(SinkTest, WritersTakingTurnsFindTheirPagesCached) {
  TempDb tmp;
  auto a = OpenDb(tmp.config());
  auto b = OpenDb(tmp.config());
  ASSERT_TRUE(a->Write([&] { return a->Exec("CREATE TABLE t(x BLOB)"); }).ok());
  int misses = 0;
  constexpr int kWrites = 40;
  for (int i = 0; i < kWrites; ++i) {
    Db& db = i % 2 == 0 ? *a : *b;
    ASSERT_TRUE(db.Write([&] {
                    auto s = db.Exec("INSERT INTO t VALUES(zeroblob(100))");
                    int now = 0, high = 0;
                    sqlite3_db_status(db.handle(), SQLITE_DBSTATUS_CACHE_MISS, &now, &high, 1);
                    if (i >= 2) misses += now;  // after each connection's first write
                    return s;
                  }).ok());
  }
  EXPECT_LT(misses, kWrites / 4) << "writes re-read their pages: " << misses << " cache misses";
}

// An image-sized message (a kilobyte of data, a few hundred bytes of attributes) is
// stored in the messages table's own pages. In the earlier layout (WITHOUT ROWID, an
// index b-tree whose cells hold at most 1,002 bytes of a 4 KiB page) each one spilled
// into an overflow page of its own: 200 messages took over 200 pages, 4 KiB each to
// write to the WAL, checkpoint and read back.
TEST(SinkTest, AKilobyteMessageTakesNoPageOfItsOwn) {
  TempDb db;
  auto admin = MakeAdmin(db.config());
  ASSERT_TRUE(admin->CreateTopic(TopicConfig{.name = "images"}).ok());
  auto sink = MakeSink(db.config());
  std::vector<Message> batch(200, MessageBuilder{}
                                      .data(std::string(1000, 'p'))
                                      .attribute("content-type", std::string(200, 'a'))
                                      .build());
  auto ids = sink->PublishBatch("images", batch);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(RawQuery(db.path(), "SELECT count(*) FROM messages"), 200);
  // About three rows a page: some 70 pages of rows plus the index and the other tables.
  EXPECT_LT(RawQuery(db.path(), "PRAGMA page_count"), 120);
}

// A file written by earlier versions, whose messages table is WITHOUT ROWID, is read
// and written as before: the columns, keys and queries are the same in both layouts.
TEST(SinkTest, AFileInTheEarlierLayoutStillWorks) {
  TempDb db;
  ASSERT_TRUE(WriteEarlierLayout(db.path()).ok());
  auto admin = MakeAdmin(db.config());
  ASSERT_TRUE(admin->CreateTopic(TopicConfig{.name = "images", .retention_messages = 30}).ok());
  ASSERT_TRUE(admin->CreateSubscription({.name = "classifier", .topic = "images"}).ok());
  auto sink = MakeSink(db.config());
  // The first publish in a process runs a retention pass; the next is 10 s later.
  PublishRange(*sink, "images", "m", 0, 5);
  PublishRange(*sink, "images", "m", 5, 50);
  auto source = MakeSource(db.config(), "classifier", "images");
  auto got = FetchN(*source, 50);
  ASSERT_EQ(got.size(), 50u);
  EXPECT_EQ(got.front().message.data, "m0");
  EXPECT_EQ(got.back().message.data, "m49");
  ASSERT_TRUE(source->Ack(Tokens(got)).ok());
  EXPECT_EQ(RawQuery(db.path(), "SELECT count(*) FROM leases"), 0);
  // Retention (a range delete and a min(seq) lookup) and describe.
  ASSERT_TRUE(admin->ApplyRetentionNow().ok());
  EXPECT_EQ(RawQuery(db.path(), "SELECT min(seq) FROM messages"), 21);
  auto info = admin->DescribeTopic("images");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->messages, 30);
  source->Close();
  // Still the earlier layout: nothing rewrote the table.
  EXPECT_EQ(RawQuery(db.path(),
                     "SELECT count(*) FROM sqlite_schema WHERE name = 'messages' AND sql LIKE "
                     "'%WITHOUT ROWID%'"),
            1);
  ASSERT_TRUE(admin->DeleteTopic("images").ok());
  EXPECT_EQ(RawQuery(db.path(), "SELECT count(*) FROM messages"), 0);
}

TEST(SinkTest, MissingTopicIsNotFoundAndSaysWhatToDo) {
  TempDb db;
  MakeAdmin(db.config());
  auto sink = MakeSink(db.config());
  std::vector<Message> batch(1);
  auto r = sink->PublishBatch("nope", batch);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(),
            absl::StrCat("topic 'nope' does not exist in ", db.url(),
                         "; create it with `unibus topics create nope` (or set "
                         "PublisherOptions::create_topic_if_missing; unibus publish "
                         "--create-topic)"));
}

TEST(SinkTest, AFailingBatchWritesNothing) {
  TempDb db;
  auto admin = MakeAdmin(db.config());
  ASSERT_TRUE(admin->CreateTopic(TopicConfig{.name = "orders"}).ok());
  auto sink = MakeSink(db.config());
  PublishRange(*sink, "orders", "ok", 0, 2);
  // A trigger makes the third message of the next batch fail mid-transaction.
  RawQuery(db.path(),
           "CREATE TRIGGER poison BEFORE INSERT ON messages WHEN CAST(NEW.data AS TEXT) = 'poison' "
           "BEGIN SELECT RAISE(ABORT, 'poisoned'); END");
  sink = MakeSink(db.config());  // a connection that sees the trigger
  std::vector<Message> batch = {
      MessageBuilder{}.data("a").build(), MessageBuilder{}.data("b").build(),
      MessageBuilder{}.data("poison").build(), MessageBuilder{}.data("c").build()};
  auto r = sink->PublishBatch("orders", batch);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(RawQuery(db.path(), "SELECT count(*) FROM messages"), 2);
  EXPECT_EQ(RawQuery(db.path(), "SELECT next_seq FROM topics WHERE name = 'orders'"), 3);
  RawQuery(db.path(), "DROP TRIGGER poison");
  sink = MakeSink(db.config());
  PublishRange(*sink, "orders", "ok", 2, 3);
  EXPECT_EQ(RawQuery(db.path(), "SELECT max(seq) FROM messages"), 3);
}

TEST(RetentionTest, ByCountKeepsTheNewest) {
  TempDb db;
  auto admin = MakeAdmin(db.config());
  ASSERT_TRUE(admin->CreateTopic(TopicConfig{.name = "orders", .retention_messages = 10}).ok());
  ASSERT_TRUE(admin
                  ->CreateSubscription(
                      {.name = "billing", .topic = "orders", .start = StartPosition::kEarliest})
                  .ok());
  auto sink = MakeSink(db.config());
  // The first publish in a process runs a retention pass (nothing to drop yet); the
  // next is due retention_check (10s) later, so the test's own pass is the next.
  PublishRange(*sink, "orders", "m", 0, 5);
  auto source = MakeSource(db.config(), "billing", "orders");
  auto leased = FetchN(*source, 3);  // leases on messages retention removes
  PublishRange(*sink, "orders", "m", 5, 25);
  EXPECT_EQ(RawQuery(db.path(), "SELECT count(*) FROM messages"), 25);
  ASSERT_TRUE(admin->ApplyRetentionNow().ok());
  EXPECT_EQ(RawQuery(db.path(), "SELECT count(*) FROM messages"), 10);
  EXPECT_EQ(RawQuery(db.path(), "SELECT min(seq) FROM messages"), 16);
  EXPECT_EQ(RawQuery(db.path(), "SELECT count(*) FROM leases"), 0);
  auto info = admin->DescribeTopic("orders");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->messages, 10);
  EXPECT_EQ(info->retention_messages, 10);
  // The subscription's cursor was below the retained range: it skips to it.
  auto rest = FetchN(*source, 100, absl::Milliseconds(50));
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.front().message.data, "m15");
  EXPECT_EQ(rest.size(), 10u);
}

TEST(RetentionTest, ByAgeDropsOldMessagesOnly) {
  TempDb db;
  auto admin = MakeAdmin(db.config());
  ASSERT_TRUE(admin->CreateTopic(TopicConfig{.name = "orders", .retention = absl::Hours(1)}).ok());
  ASSERT_TRUE(admin->CreateTopic(TopicConfig{.name = "default"}).ok());
  auto sink = MakeSink(db.config());
  PublishRange(*sink, "orders", "m", 0, 5);
  PublishRange(*sink, "default", "m", 0, 5);
  // Backdate the first three by two hours, the default topic's all by two days.
  RawQuery(
      db.path(),
      absl::StrCat("UPDATE messages SET publish_us = publish_us - 7200000000 WHERE seq <= 3 AND "
                   "topic_id = (SELECT id FROM topics WHERE name = 'orders')"));
  RawQuery(db.path(),
           "UPDATE messages SET publish_us = publish_us - 172800000000 WHERE "
           "topic_id = (SELECT id FROM topics WHERE name = 'default')");
  auto owner = OpenDb(db.config());
  ASSERT_TRUE(ApplyRetention(*owner, NowMicros()).ok());
  EXPECT_EQ(RawQuery(db.path(),
                     "SELECT count(*) FROM messages m JOIN topics t ON t.id = m.topic_id "
                     "WHERE t.name = 'orders'"),
            2);
  EXPECT_EQ(RawQuery(db.path(),
                     "SELECT count(*) FROM messages m JOIN topics t ON t.id = m.topic_id "
                     "WHERE t.name = 'default'"),
            5)
      << "the default retention is 7 days";
  auto info = admin->DescribeTopic("default");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->retention, absl::Hours(24 * 7));
  EXPECT_EQ(info->retention_messages, 0);
  // Eight days later, the default drops them too.
  ASSERT_TRUE(ApplyRetention(*owner, NowMicros() + 8LL * 24 * 3600 * 1000000).ok());
  EXPECT_EQ(RawQuery(db.path(), "SELECT count(*) FROM messages"), 0);
}

TEST(RetentionTest, RunsPeriodicallyFromThePublishPath) {
  TempDb db;
  DbConfig config = db.config();
  config.retention_check = absl::Milliseconds(1);
  auto admin = MakeAdmin(config);
  ASSERT_TRUE(admin->CreateTopic(TopicConfig{.name = "orders", .retention_messages = 5}).ok());
  auto sink = std::make_shared<SqliteSink>(OpenDb(config));
  for (int i = 0; i < 20; ++i) {
    absl::SleepFor(absl::Milliseconds(2));  // let the next check come due
    PublishRange(*sink, "orders", "m", i * 10, i * 10 + 10);
  }
  // The last pass ran after the last batch or before it: at most one batch over.
  EXPECT_LE(RawQuery(db.path(), "SELECT count(*) FROM messages"), 15);
}

TEST(AttributesTest, RoundTripAndRejectGarbage) {
  std::map<std::string, std::string> in = {
      {"", ""}, {"k", std::string(300, 'v')}, {std::string("a\0b", 3), "c"}};
  std::map<std::string, std::string> out;
  ASSERT_TRUE(DecodeAttributes(EncodeAttributes(in), &out));
  EXPECT_EQ(in, out);
  std::map<std::string, std::string> bad;
  EXPECT_FALSE(DecodeAttributes("\x05\x00\x00\x00ab", &bad));
}

}  // namespace
}  // namespace unibus::sqlite_internal
