#include "pipeline/store.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "pipeline/store_check.h"
#include "sqlite/checkpointer.h"

namespace unibus::pipeline {
namespace {

constexpr char kCreateTable[] = R"sql(
CREATE TABLE IF NOT EXISTS predictions (
  image_id TEXT PRIMARY KEY,
  class_index INTEGER NOT NULL,
  class_name TEXT NOT NULL,
  confidence REAL NOT NULL,
  model_version TEXT NOT NULL,
  true_label INTEGER,
  produced_at_us BIGINT NOT NULL,
  classified_at_us BIGINT NOT NULL,
  stored_at_us BIGINT NOT NULL,
  queue_ms DOUBLE PRECISION NOT NULL,
  inference_ms DOUBLE PRECISION NOT NULL,
  deliveries INTEGER NOT NULL DEFAULT 1
))sql";

// Both SQLite (3.24+) and PostgreSQL accept this upsert.
constexpr char kUpsertTail[] = R"sql(
ON CONFLICT (image_id) DO UPDATE SET
  class_index = excluded.class_index, class_name = excluded.class_name,
  confidence = excluded.confidence, model_version = excluded.model_version,
  true_label = excluded.true_label, classified_at_us = excluded.classified_at_us,
  queue_ms = excluded.queue_ms, inference_ms = excluded.inference_ms,
  deliveries = predictions.deliveries + 1)sql";

constexpr char kSummaryColumns[] =
    "SELECT COUNT(*), COUNT(DISTINCT image_id), COUNT(true_label), "
    "COALESCE(SUM(CASE WHEN true_label = class_index THEN 1 ELSE 0 END), 0), "
    "COALESCE(SUM(deliveries - 1), 0)";
constexpr char kLatencyColumns[] =
    "SELECT (stored_at_us - produced_at_us) / 1000.0, queue_ms, inference_ms, "
    "(stored_at_us - classified_at_us) / 1000.0";
// The rows of one run: image ids that start with the bound prefix ('' = every row).
// substr and length count characters in both SQLite and PostgreSQL.
constexpr char kRunRowsSqlite[] = " FROM predictions WHERE substr(image_id, 1, length(?1)) = ?1";
constexpr char kRunRowsPg[] =
    " FROM predictions WHERE substr(image_id, 1, length($1::text)) = $1::text";

void SortLatencies(StoreSummary* s) {
  for (auto* v : {&s->latencies_ms, &s->queue_ms, &s->inference_ms, &s->delivery_ms})
    std::sort(v->begin(), v->end());
}

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtCloser {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

class SqliteStore : public PredictionStore {
 public:
  static absl::StatusOr<std::unique_ptr<PredictionStore>> Open(const std::string& path) {
    // Decided before anything is written: a file of another application is left
    // byte-for-byte as it was (no table, no journal mode change).
    if (auto s = CheckSqliteOwnership(path); !s.ok()) return s;
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    std::unique_ptr<sqlite3, SqliteCloser> db(raw);
    if (rc != SQLITE_OK) {
      return absl::UnavailableError(absl::StrCat("cannot open predictions database '", path, "': ",
                                                 raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    }
    sqlite3_busy_timeout(db.get(), 10000);
    auto store = std::unique_ptr<SqliteStore>(new SqliteStore(std::move(db), path));
    for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", kCreateTable}) {
      if (auto s = store->Exec(sql); !s.ok()) return s;
    }
    // Checkpoints (and their fsyncs) on a thread of their own, not in the sink's
    // commits; if it cannot start, SQLite's automatic checkpoint stays.
    if (auto c = sqlite_internal::WalCheckpointer::Start(path, /*synchronous_full=*/false);
        c.ok()) {
      store->checkpointer_ = *std::move(c);
      store->checkpointer_->Attach(store->db_.get());
    }
    const std::string insert = absl::StrCat(
        "INSERT INTO predictions (image_id, class_index, class_name, confidence, model_version, "
        "true_label, "
        "produced_at_us, classified_at_us, stored_at_us, queue_ms, inference_ms) VALUES "
        "(?,?,?,?,?,?,?,?,?,?,?)",
        kUpsertTail);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(store->db_.get(), insert.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      return store->Error("prepare upsert");
    }
    store->upsert_.reset(st);
    return std::unique_ptr<PredictionStore>(std::move(store));
  }

  absl::Status Upsert(const std::vector<vision::Prediction>& batch) override {
    if (auto s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    const std::int64_t now = absl::ToUnixMicros(absl::Now());
    for (const auto& p : batch) {
      sqlite3_stmt* st = upsert_.get();
      sqlite3_reset(st);
      sqlite3_bind_text(st, 1, p.image_id().data(), static_cast<int>(p.image_id().size()),
                        SQLITE_TRANSIENT);
      sqlite3_bind_int(st, 2, p.class_index());
      sqlite3_bind_text(st, 3, p.class_name().data(), static_cast<int>(p.class_name().size()),
                        SQLITE_TRANSIENT);
      sqlite3_bind_double(st, 4, p.confidence());
      sqlite3_bind_text(st, 5, p.model_version().data(), static_cast<int>(p.model_version().size()),
                        SQLITE_TRANSIENT);
      if (p.has_true_label())
        sqlite3_bind_int(st, 6, p.true_label());
      else
        sqlite3_bind_null(st, 6);
      sqlite3_bind_int64(st, 7, p.produced_at_us());
      sqlite3_bind_int64(st, 8, p.classified_at_us());
      sqlite3_bind_int64(st, 9, now);
      sqlite3_bind_double(st, 10, p.queue_ms());
      sqlite3_bind_double(st, 11, p.inference_ms());
      if (sqlite3_step(st) != SQLITE_DONE) {
        auto s = Error(absl::StrCat("upsert prediction for ", p.image_id()));
        (void)Exec("ROLLBACK");
        return s;
      }
    }
    return Exec("COMMIT");
  }

  absl::StatusOr<StoreSummary> Summarize(const std::string& prefix) override {
    StoreSummary out;
    sqlite3_stmt* raw = nullptr;
    const std::string summary = absl::StrCat(kSummaryColumns, kRunRowsSqlite);
    if (sqlite3_prepare_v2(db_.get(), summary.c_str(), -1, &raw, nullptr) != SQLITE_OK)
      return Error("summary");
    std::unique_ptr<sqlite3_stmt, StmtCloser> st(raw);
    sqlite3_bind_text(st.get(), 1, prefix.data(), static_cast<int>(prefix.size()),
                      SQLITE_TRANSIENT);
    if (sqlite3_step(st.get()) != SQLITE_ROW) return Error("summary");
    out.rows = sqlite3_column_int64(st.get(), 0);
    out.distinct_images = sqlite3_column_int64(st.get(), 1);
    out.labelled = sqlite3_column_int64(st.get(), 2);
    out.correct = sqlite3_column_int64(st.get(), 3);
    out.redeliveries = sqlite3_column_int64(st.get(), 4);
    const std::string latencies = absl::StrCat(kLatencyColumns, kRunRowsSqlite);
    if (sqlite3_prepare_v2(db_.get(), latencies.c_str(), -1, &raw, nullptr) != SQLITE_OK)
      return Error("latencies");
    st.reset(raw);
    sqlite3_bind_text(st.get(), 1, prefix.data(), static_cast<int>(prefix.size()),
                      SQLITE_TRANSIENT);
    while (sqlite3_step(st.get()) == SQLITE_ROW) {
      out.latencies_ms.push_back(sqlite3_column_double(st.get(), 0));
      out.queue_ms.push_back(sqlite3_column_double(st.get(), 1));
      out.inference_ms.push_back(sqlite3_column_double(st.get(), 2));
      out.delivery_ms.push_back(sqlite3_column_double(st.get(), 3));
    }
    SortLatencies(&out);
    return out;
  }

  absl::Status Clear() override { return Exec("DELETE FROM predictions"); }

 private:
  SqliteStore(std::unique_ptr<sqlite3, SqliteCloser> db, std::string path)
      : db_(std::move(db)), path_(std::move(path)) {}

  absl::Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      return absl::UnavailableError(absl::StrCat("predictions database '", path_, "': ", msg));
    }
    return absl::OkStatus();
  }
  absl::Status Error(const std::string& what) {
    return absl::UnavailableError(absl::StrCat("predictions database '", path_, "': ", what, ": ",
                                               sqlite3_errmsg(db_.get())));
  }

  // Declared first: it must outlive the connection that calls it.
  std::unique_ptr<sqlite_internal::WalCheckpointer> checkpointer_;
  std::unique_ptr<sqlite3, SqliteCloser> db_;
  std::unique_ptr<sqlite3_stmt, StmtCloser> upsert_;
  std::string path_;
};

struct PgCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultCloser>;

class PostgresStore : public PredictionStore {
 public:
  static absl::StatusOr<std::unique_ptr<PredictionStore>> Open(const std::string& url) {
    std::unique_ptr<PGconn, PgCloser> conn(PQconnectdb(url.c_str()));
    if (PQstatus(conn.get()) != CONNECTION_OK) {
      return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL at '", Redact(url),
                                                 "': ", PQerrorMessage(conn.get()),
                                                 " (is the server running?)"));
    }
    // Server NOTICEs ("relation already exists, skipping") are not for the user.
    PQsetNoticeProcessor(
        conn.get(), [](void*, const char*) {}, nullptr);
    if (auto s = CheckPostgresOwnership(conn.get(), Redact(url)); !s.ok()) return s;
    auto store = std::unique_ptr<PostgresStore>(new PostgresStore(std::move(conn), Redact(url)));
    if (auto s = store->Exec(kCreateTable); !s.ok()) return s;
    const std::string insert = absl::StrCat(
        "INSERT INTO predictions (image_id, class_index, class_name, confidence, model_version, "
        "true_label, "
        "produced_at_us, classified_at_us, stored_at_us, queue_ms, inference_ms) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
        kUpsertTail);
    PgResult r(PQprepare(store->conn_.get(), "upsert", insert.c_str(), 11, nullptr));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return store->Error("prepare upsert");
    return std::unique_ptr<PredictionStore>(std::move(store));
  }

  absl::Status Upsert(const std::vector<vision::Prediction>& batch) override {
    if (auto s = Exec("BEGIN"); !s.ok()) return s;
    const std::string now = absl::StrCat(absl::ToUnixMicros(absl::Now()));
    for (const auto& p : batch) {
      std::string v[11] = {p.image_id(),
                           absl::StrCat(p.class_index()),
                           p.class_name(),
                           absl::StrCat(p.confidence()),
                           p.model_version(),
                           p.has_true_label() ? absl::StrCat(p.true_label()) : "",
                           absl::StrCat(p.produced_at_us()),
                           absl::StrCat(p.classified_at_us()),
                           now,
                           absl::StrCat(p.queue_ms()),
                           absl::StrCat(p.inference_ms())};
      const char* values[11];
      for (int i = 0; i < 11; ++i) values[i] = v[i].c_str();
      if (!p.has_true_label()) values[5] = nullptr;
      PgResult r(PQexecPrepared(conn_.get(), "upsert", 11, values, nullptr, nullptr, 0));
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
        auto s = Error(absl::StrCat("upsert prediction for ", p.image_id()));
        (void)Exec("ROLLBACK");
        return s;
      }
    }
    return Exec("COMMIT");
  }

  absl::StatusOr<StoreSummary> Summarize(const std::string& prefix) override {
    StoreSummary out;
    const char* params[1] = {prefix.c_str()};
    const std::string summary = absl::StrCat(kSummaryColumns, kRunRowsPg);
    PgResult r(PQexecParams(conn_.get(), summary.c_str(), 1, nullptr, params, nullptr, nullptr, 0));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return Error("summary");
    out.rows = std::stoll(PQgetvalue(r.get(), 0, 0));
    out.distinct_images = std::stoll(PQgetvalue(r.get(), 0, 1));
    out.labelled = std::stoll(PQgetvalue(r.get(), 0, 2));
    out.correct = std::stoll(PQgetvalue(r.get(), 0, 3));
    out.redeliveries = std::stoll(PQgetvalue(r.get(), 0, 4));
    const std::string latencies = absl::StrCat(kLatencyColumns, kRunRowsPg);
    PgResult l(
        PQexecParams(conn_.get(), latencies.c_str(), 1, nullptr, params, nullptr, nullptr, 0));
    if (PQresultStatus(l.get()) != PGRES_TUPLES_OK) return Error("latencies");
    for (int i = 0; i < PQntuples(l.get()); ++i) {
      out.latencies_ms.push_back(std::stod(PQgetvalue(l.get(), i, 0)));
      out.queue_ms.push_back(std::stod(PQgetvalue(l.get(), i, 1)));
      out.inference_ms.push_back(std::stod(PQgetvalue(l.get(), i, 2)));
      out.delivery_ms.push_back(std::stod(PQgetvalue(l.get(), i, 3)));
    }
    SortLatencies(&out);
    return out;
  }

  absl::Status Clear() override { return Exec("DELETE FROM predictions"); }

 private:
  PostgresStore(std::unique_ptr<PGconn, PgCloser> conn, std::string url)
      : conn_(std::move(conn)), url_(std::move(url)) {}

  static std::string Redact(const std::string& url) {
    // postgresql://user:password@host -> postgresql://user:***@host
    auto scheme = url.find("://");
    auto at = url.find('@');
    if (scheme == std::string::npos || at == std::string::npos) return url;
    auto colon = url.find(':', scheme + 3);
    if (colon == std::string::npos || colon > at) return url;
    return url.substr(0, colon + 1) + "***" + url.substr(at);
  }
  absl::Status Exec(const char* sql) {
    PgResult r(PQexec(conn_.get(), sql));
    const auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Error(sql);
    return absl::OkStatus();
  }
  absl::Status Error(const std::string& what) {
    return absl::UnavailableError(
        absl::StrCat("PostgreSQL '", url_, "': ", what, ": ", PQerrorMessage(conn_.get())));
  }

  std::unique_ptr<PGconn, PgCloser> conn_;
  std::string url_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PredictionStore>> PredictionStore::Open(const std::string& db) {
  if (absl::StartsWith(db, "postgresql://") || absl::StartsWith(db, "postgres://")) {
    return PostgresStore::Open(db);
  }
  if (absl::StartsWith(db, "sqlite:")) {
    std::string path = db.substr(7);
    if (absl::StartsWith(path, "//")) path = path.substr(2);
    if (path.empty()) return absl::InvalidArgumentError("--db sqlite:PATH needs a path");
    return SqliteStore::Open(path);
  }
  if (db.find("://") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported database '", db, "'; use sqlite:PATH or postgresql://USER@HOST:PORT/DB"));
  }
  return SqliteStore::Open(db);
}

}  // namespace unibus::pipeline
