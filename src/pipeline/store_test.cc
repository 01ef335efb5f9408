#include "pipeline/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

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
  auto s = store.Summarize();
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

TEST(StoreTest, BadDatabaseArgumentsAreClear) {
  EXPECT_EQ(PredictionStore::Open("mysql://x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PredictionStore::Open("sqlite:").status().code(), absl::StatusCode::kInvalidArgument);
  auto s = PredictionStore::Open("sqlite:/nonexistent-dir/x/preds.db");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.status().message().find("/nonexistent-dir/x/preds.db"), std::string::npos);
  auto pg = PredictionStore::Open("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2");
  EXPECT_EQ(pg.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(pg.status().message().find("is the server running"), std::string::npos);
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

TEST(StoreTest, PostgresUpsertNeverMakesASecondRow) {
  PostgresServer server;
  auto started = server.Start();
  ASSERT_TRUE(started.ok()) << started;
  auto store = PredictionStore::Open(server.Url());
  ASSERT_TRUE(store.ok()) << store.status();
  CheckUpsertSemantics(**store);
}

}  // namespace
}  // namespace unibus::pipeline
