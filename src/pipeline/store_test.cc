#include "pipeline/store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "core/c_handle.h"

namespace unibus::pipeline {
namespace {

vision::Prediction P(const std::string& id, int cls, int label) {
  vision::Prediction p;
  p.set_image_id(id);
  p.set_class_index(cls);
  p.set_class_name("c");
  p.set_confidence(0.9f);
  p.set_model_version("v1");
  p.set_true_label(label);
  p.set_produced_at_us(1);
  p.set_classified_at_us(2001);
  p.set_queue_ms(1.5);
  p.set_inference_ms(0.5);
  return p;
}

void CheckUpsertSemantics(PredictionStore& store) {
  ASSERT_TRUE(store.Clear().ok());
  ASSERT_TRUE(store.Upsert({P("a", 1, 1), P("b", 2, 3), P("c", 4, 4)}).ok());
  ASSERT_TRUE(store.Upsert({P("b", 3, 3)}).ok());  // a redelivered prediction
  auto s = store.Summarize("");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->rows, 3);
  EXPECT_EQ(s->distinct_images, 3);
  EXPECT_EQ(s->labelled, 3);
  EXPECT_EQ(s->correct, 3);  // b's row was updated, not duplicated
  EXPECT_EQ(s->redeliveries, 1);
  EXPECT_EQ(s->latencies_ms.size(), 3u);
  // The stages of each row: queue and inference as the classifier measured them,
  // delivery from classified to stored (the clock of this machine, so >= 0 here).
  ASSERT_EQ(s->queue_ms.size(), 3u);
  ASSERT_EQ(s->inference_ms.size(), 3u);
  ASSERT_EQ(s->delivery_ms.size(), 3u);
  EXPECT_DOUBLE_EQ(s->queue_ms[0], 1.5);
  EXPECT_DOUBLE_EQ(s->inference_ms[2], 0.5);
  EXPECT_GT(s->delivery_ms[0], 0);
  EXPECT_DOUBLE_EQ(s->delivery_ms[0] + 2.0, s->latencies_ms[0]);  // classified 2 ms after produced
}

TEST(StoreTest, SqliteUpsertNeverMakesASecondRow) {
  const std::string path = absl::StrCat(testing::TempDir(), "/preds-", getpid(), ".db");
  auto store = PredictionStore::Open("sqlite:" + path);
  ASSERT_TRUE(store.ok()) << store.status();
  CheckUpsertSemantics(**store);
  std::filesystem::remove(path);
}

// Summaries count one run's rows: those whose image id starts with the run's prefix.
TEST(StoreTest, SummaryOfOneRunCountsOnlyItsRows) {
  const std::string path = absl::StrCat(testing::TempDir(), "/preds-runs-", getpid(), ".db");
  auto store = PredictionStore::Open("sqlite:" + path);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Upsert({P("run1/img-0", 1, 1), P("run1/img-1", 2, 3)}).ok());
  ASSERT_TRUE((*store)->Upsert({P("run2/img-0", 4, 4)}).ok());
  auto one = (*store)->Summarize("run1/");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->rows, 2);
  EXPECT_EQ(one->correct, 1);
  EXPECT_EQ(one->latencies_ms.size(), 2u);
  auto all = (*store)->Summarize("");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->rows, 3);
  std::filesystem::remove(path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A database of another application is refused on one line with FailedPrecondition
// and left byte-for-byte as it was: no predictions table, no switch to WAL.
TEST(StoreTest, ForeignSqliteDatabaseIsRefusedAndUnchanged) {
  const std::string dir = absl::StrCat(testing::TempDir(), "/foreign-", getpid());
  std::filesystem::create_directories(dir);
  const std::string other = dir + "/other.db";
  ASSERT_EQ(std::system(("sqlite3 " + other +
                         " 'CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);"
                         " INSERT INTO users VALUES (1, \"ada\")'")
                            .c_str()),
            0);
  const std::string before = ReadFile(other);
  ASSERT_FALSE(before.empty());
  auto s = PredictionStore::Open("sqlite:" + other);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition) << s.status();
  EXPECT_NE(s.status().message().find("tables: users"), std::string::npos) << s.status();
  EXPECT_EQ(s.status().message().find('\n'), std::string::npos);
  EXPECT_EQ(ReadFile(other), before);
  EXPECT_FALSE(std::filesystem::exists(other + "-wal"));

  // A table named predictions with other columns is not ours either.
  const std::string lookalike = dir + "/lookalike.db";
  ASSERT_EQ(std::system(("sqlite3 " + lookalike + " 'CREATE TABLE predictions (id TEXT)'").c_str()),
            0);
  const std::string lookalike_before = ReadFile(lookalike);
  s = PredictionStore::Open("sqlite:" + lookalike);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition) << s.status();
  EXPECT_EQ(ReadFile(lookalike), lookalike_before);

  // Not a database at all.
  const std::string text = dir + "/notes.txt";
  std::ofstream(text) << "not a database\n";
  s = PredictionStore::Open("sqlite:" + text);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition) << s.status();
  EXPECT_EQ(ReadFile(text), "not a database\n");

  // New, empty (0 bytes, or no tables) and our own store are accepted.
  std::ofstream(dir + "/zero.db").flush();
  ASSERT_EQ(std::system(("sqlite3 " + dir + "/blank.db 'PRAGMA user_version = 0'").c_str()), 0);
  for (const char* name : {"/new.db", "/zero.db", "/blank.db", "/new.db"}) {
    auto ok = PredictionStore::Open("sqlite:" + dir + name);
    EXPECT_TRUE(ok.ok()) << name << ": " << ok.status();
  }
  std::filesystem::remove_all(dir);
}

TEST(StoreTest, BadDatabaseArgumentsAreClear) {
  EXPECT_EQ(PredictionStore::Open("mysql://x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PredictionStore::Open("sqlite:").status().code(), absl::StatusCode::kInvalidArgument);
  // A directory that does not exist is the caller's to fix, not worth a retry.
  auto s = PredictionStore::Open("sqlite:/nonexistent-dir/x/preds.db");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition) << s.status();
  EXPECT_NE(s.status().message().find("/nonexistent-dir/x/preds.db"), std::string::npos);
  auto pg = PredictionStore::Open("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2");
  EXPECT_EQ(pg.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(pg.status().message().find("is the server running"), std::string::npos);
  // Neither the password of the authority nor one in the query is shown.
  auto secret = PredictionStore::Open(
      "postgresql://nobody:hunter2@127.0.0.1:1/none?connect_timeout=2&"
      "password=hunter3");
  EXPECT_EQ(secret.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(secret.status().message().find("hunter"), std::string::npos) << secret.status();
  EXPECT_NE(secret.status().message().find("nobody:***@127.0.0.1"), std::string::npos)
      << secret.status();
}

// A SQLSTATE means what the same trouble means on the SQLite store.
TEST(StoreTest, PostgresErrorsHaveTheCodeTheirSqlstateMeans) {
  EXPECT_EQ(PostgresStatusCode("08006"), absl::StatusCode::kUnavailable);  // connection failure
  EXPECT_EQ(PostgresStatusCode(""), absl::StatusCode::kUnavailable);       // no result at all
  EXPECT_EQ(PostgresStatusCode("57P01"), absl::StatusCode::kUnavailable);  // admin shutdown
  EXPECT_EQ(PostgresStatusCode("42501"), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(PostgresStatusCode("28P01"), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(PostgresStatusCode("53100"), absl::StatusCode::kResourceExhausted);  // disk full
  EXPECT_EQ(PostgresStatusCode("40001"), absl::StatusCode::kAborted);  // serialization failure
  EXPECT_EQ(PostgresStatusCode("22P02"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PostgresStatusCode("42P01"), absl::StatusCode::kFailedPrecondition);  // no table
  EXPECT_EQ(PostgresStatusCode("XX000"), absl::StatusCode::kInternal);
}

// A throwaway PostgreSQL server on a loopback port, from Debian's postgresql package.
class PostgresServer {
 public:
  absl::Status Start() {
    const std::string bin = "/usr/lib/postgresql/15/bin";
    if (!std::filesystem::exists(bin + "/initdb")) {
      return absl::UnavailableError(
          "PostgreSQL 15 server binaries not installed (apt-get install postgresql)");
    }
    dir_ = absl::StrCat("/tmp/unibus-pg-", getpid());
    port_ = 20000 + getpid() % 10000;
    const std::string as = geteuid() == 0 ? "runuser -u postgres -- " : "";
    std::filesystem::create_directories(dir_);
    if (geteuid() == 0 && std::system(("chown postgres " + dir_).c_str()) != 0) {
      return absl::InternalError("chown failed");
    }
    if (Run(as + bin + "/initdb -D " + dir_ + "/data -A trust -U unibus") != 0) {
      return absl::InternalError("initdb failed");
    }
    if (Run(as + bin + "/pg_ctl -D " + dir_ + "/data -w -l " + dir_ + "/log -o \"-h 127.0.0.1 -p " +
            std::to_string(port_) + " -k " + dir_ + "\" start") != 0) {
      return absl::InternalError("pg_ctl start failed; see " + dir_ + "/log");
    }
    started_ = true;
    return absl::OkStatus();
  }
  ~PostgresServer() {
    if (started_) {
      const std::string as = geteuid() == 0 ? "runuser -u postgres -- " : "";
      Run(as + "/usr/lib/postgresql/15/bin/pg_ctl -D " + dir_ + "/data -m immediate stop");
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string Url() const {
    return absl::StrCat("postgresql://unibus@127.0.0.1:", port_, "/postgres");
  }

 private:
  static int Run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }
  std::string dir_;
  int port_ = 0;
  bool started_ = false;
};

// Also the ownership rule on PostgreSQL: a schema holding another application's
// tables is refused before anything is created in it (one server for both: ~8 s each).
TEST(StoreTest, PostgresUpsertNeverMakesASecondRowAndForeignSchemaIsRefused) {
  PostgresServer server;
  auto started = server.Start();
  ASSERT_TRUE(started.ok()) << started;
  core_internal::CHandle<PGconn, PQfinish> conn(PQconnectdb(server.Url().c_str()));
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK);
  auto exec = [&](const char* sql) {
    core_internal::CHandle<PGresult, PQclear> r(PQexec(conn.get(), sql));
    return PQntuples(r.get()) > 0 ? std::string(PQgetvalue(r.get(), 0, 0)) : std::string();
  };
  exec("CREATE TABLE users (id INT)");
  auto refused = PredictionStore::Open(server.Url());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_NE(refused.status().message().find("tables: users"), std::string::npos)
      << refused.status();
  EXPECT_EQ(exec("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = "
                 "'predictions'"),
            "0")
      << "a predictions table was created anyway";
  exec("DROP TABLE users");
  conn.reset();

  auto store = PredictionStore::Open(server.Url());
  ASSERT_TRUE(store.ok()) << store.status();
  CheckUpsertSemantics(**store);
  store->reset();
  ASSERT_TRUE(PredictionStore::Open(server.Url()).ok()) << "our own store is accepted again";
}

}  // namespace
}  // namespace unibus::pipeline
