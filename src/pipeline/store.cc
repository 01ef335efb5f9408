#include "pipeline/store.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <type_traits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/c_handle.h"
#include "core/url.h"
#include "pipeline/store_check.h"
#include "sqlite/db.h"

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

// The SQL of the SQLite store, built once: Db caches a prepared statement by the
// address of its text.
const char* SqliteSql(int which) {
  static const std::string* const sql = new std::string[3]{
      absl::StrCat("INSERT INTO predictions (image_id, class_index, class_name, confidence, "
                   "model_version, true_label, produced_at_us, classified_at_us, stored_at_us, "
                   "queue_ms, inference_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                   kUpsertTail),
      absl::StrCat(kSummaryColumns, kRunRowsSqlite), absl::StrCat(kLatencyColumns, kRunRowsSqlite)};
  return sql[which].c_str();
}
enum SqliteStatement { kUpsert = 0, kSummary = 1, kLatencies = 2 };

// On the sqlite backend's connection layer (src/sqlite/db.h): WAL, a busy handler,
// checkpoints on their own thread, cached statements, write transactions that roll
// back on failure, and SQLite's result codes as the status codes the broker uses.
class SqliteStore : public PredictionStore {
 public:
  static absl::StatusOr<std::unique_ptr<PredictionStore>> Open(const std::string& path) {
    // Decided before anything is written: a file of another application is left
    // byte-for-byte as it was (no table, no journal mode change).
    if (auto s = CheckSqliteOwnership(path); !s.ok()) return s;
    sqlite_internal::DbConfig config;
    config.path = path;
    config.url = absl::StrCat("predictions database sqlite:", path);
    config.busy_timeout = absl::Seconds(10);
    auto db = sqlite_internal::Db::Open(
        config, [](sqlite_internal::Db& db) { return db.Exec(kCreateTable); });
    if (!db.ok()) return db.status();
    return std::unique_ptr<PredictionStore>(new SqliteStore(*std::move(db)));
  }

  absl::Status Upsert(const std::vector<vision::Prediction>& batch) override {
    const std::int64_t now = absl::ToUnixMicros(absl::Now());
    return db_->Write([&]() -> absl::Status {
      auto upsert = db_->Prepare(SqliteSql(kUpsert));
      if (!upsert.ok()) return upsert.status();
      for (const auto& p : batch) {
        sqlite_internal::StmtScope q(*upsert);
        q->BindText(1, p.image_id());
        q->Bind(2, p.class_index());
        q->BindText(3, p.class_name());
        q->BindDouble(4, p.confidence());
        q->BindText(5, p.model_version());
        if (p.has_true_label())
          q->Bind(6, p.true_label());
        else
          q->BindNull(6);
        q->Bind(7, p.produced_at_us());
        q->Bind(8, p.classified_at_us());
        q->Bind(9, now);
        q->BindDouble(10, p.queue_ms());
        q->BindDouble(11, p.inference_ms());
        if (const int rc = q->Step(); rc != SQLITE_DONE)
          return db_->Error(rc, absl::StrCat("storing the prediction for image ", p.image_id()));
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<StoreSummary> Summarize(const std::string& prefix) override {
    StoreSummary out;
    auto summary = db_->Prepare(SqliteSql(kSummary));
    if (!summary.ok()) return summary.status();
    {
      sqlite_internal::StmtScope q(*summary);
      q->BindText(1, prefix);
      if (const int rc = q->Step(); rc != SQLITE_ROW)
        return db_->Error(rc, "counting the stored predictions");
      out.rows = q->Int(0);
      out.distinct_images = q->Int(1);
      out.labelled = q->Int(2);
      out.correct = q->Int(3);
      out.redeliveries = q->Int(4);
    }
    auto latencies = db_->Prepare(SqliteSql(kLatencies));
    if (!latencies.ok()) return latencies.status();
    sqlite_internal::StmtScope q(*latencies);
    q->BindText(1, prefix);
    int rc;
    while ((rc = q->Step()) == SQLITE_ROW) {
      out.latencies_ms.push_back(q->Double(0));
      out.queue_ms.push_back(q->Double(1));
      out.inference_ms.push_back(q->Double(2));
      out.delivery_ms.push_back(q->Double(3));
    }
    if (rc != SQLITE_DONE) return db_->Error(rc, "reading the stored latencies");
    SortLatencies(&out);
    return out;
  }

  absl::Status Clear() override {
    return db_->Write([&] { return db_->Exec("DELETE FROM predictions"); });
  }

 private:
  explicit SqliteStore(std::unique_ptr<sqlite_internal::Db> db) : db_(std::move(db)) {}

  std::unique_ptr<sqlite_internal::Db> db_;
};

using PgConn = core_internal::CHandle<PGconn, PQfinish>;
using PgResult = core_internal::CHandle<PGresult, PQclear>;

// The number in row `row`, column `col` of `r`; Internal naming the column when the
// server sent something else.
template <typename T>
absl::StatusOr<T> PgNumber(const PGresult* r, int row, int col) {
  const char* text = PQgetvalue(r, row, col);
  T v{};
  bool ok;
  if constexpr (std::is_floating_point_v<T>)
    ok = absl::SimpleAtod(text, &v);
  else
    ok = absl::SimpleAtoi(text, &v);
  if (!ok) {
    return absl::InternalError(absl::StrCat("PostgreSQL returned '", text, "' for column ",
                                            PQfname(r, col), ", which should be a number"));
  }
  return v;
}

class PostgresStore : public PredictionStore {
 public:
  static absl::StatusOr<std::unique_ptr<PredictionStore>> Open(const std::string& url) {
    const std::string shown = core_internal::RedactUrl(url);
    PgConn conn(PQconnectdb(url.c_str()));
    if (PQstatus(conn.get()) != CONNECTION_OK) {
      return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL at '", shown,
                                                 "': ", PQerrorMessage(conn.get()),
                                                 " (is the server running?)"));
    }
    // Server NOTICEs ("relation already exists, skipping") are not for the user.
    PQsetNoticeProcessor(
        conn.get(), [](void*, const char*) {}, nullptr);
    if (auto s = CheckPostgresOwnership(conn.get(), shown); !s.ok()) return s;
    auto store = std::unique_ptr<PostgresStore>(new PostgresStore(std::move(conn), shown));
    if (auto s = store->Exec(kCreateTable); !s.ok()) return s;
    const std::string insert = absl::StrCat(
        "INSERT INTO predictions (image_id, class_index, class_name, confidence, model_version, "
        "true_label, "
        "produced_at_us, classified_at_us, stored_at_us, queue_ms, inference_ms) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
        kUpsertTail);
    PgResult r(PQprepare(store->conn_.get(), "upsert", insert.c_str(), 11, nullptr));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
      return store->Error("preparing the upsert", r.get());
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
        auto s = Error(absl::StrCat("storing the prediction for image ", p.image_id()), r.get());
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
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK)
      return Error("counting the stored predictions", r.get());
    const std::pair<int, std::int64_t*> counts[] = {{0, &out.rows},
                                                    {1, &out.distinct_images},
                                                    {2, &out.labelled},
                                                    {3, &out.correct},
                                                    {4, &out.redeliveries}};
    for (auto [col, field] : counts) {
      auto v = PgNumber<std::int64_t>(r.get(), 0, col);
      if (!v.ok()) return v.status();
      *field = *v;
    }
    const std::string latencies = absl::StrCat(kLatencyColumns, kRunRowsPg);
    PgResult l(
        PQexecParams(conn_.get(), latencies.c_str(), 1, nullptr, params, nullptr, nullptr, 0));
    if (PQresultStatus(l.get()) != PGRES_TUPLES_OK)
      return Error("reading the stored latencies", l.get());
    const std::pair<int, std::vector<double>*> columns[] = {
        {0, &out.latencies_ms}, {1, &out.queue_ms}, {2, &out.inference_ms}, {3, &out.delivery_ms}};
    for (int i = 0; i < PQntuples(l.get()); ++i) {
      for (auto [col, list] : columns) {
        auto v = PgNumber<double>(l.get(), i, col);
        if (!v.ok()) return v.status();
        list->push_back(*v);
      }
    }
    SortLatencies(&out);
    return out;
  }

  absl::Status Clear() override { return Exec("DELETE FROM predictions"); }

 private:
  PostgresStore(PgConn conn, std::string url) : conn_(std::move(conn)), url_(std::move(url)) {}

  absl::Status Exec(const char* sql) {
    PgResult r(PQexec(conn_.get(), sql));
    const auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
      return Error(absl::StrCat("running '", sql, "'"), r.get());
    return absl::OkStatus();
  }
  // The failure of `what`, with the code its SQLSTATE means (PostgresStatusCode).
  absl::Status Error(const std::string& what, const PGresult* r) {
    const char* sqlstate = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    return absl::Status(
        PostgresStatusCode(sqlstate != nullptr ? sqlstate : ""),
        absl::StrCat("PostgreSQL '", url_, "': ", what, ": ", PQerrorMessage(conn_.get()),
                     sqlstate != nullptr ? absl::StrCat(" (SQLSTATE ", sqlstate, ")") : ""));
  }

  PgConn conn_;
  std::string url_;  // secrets redacted
};

}  // namespace

absl::StatusCode PostgresStatusCode(std::string_view sqlstate) {
  if (sqlstate == "42501") return absl::StatusCode::kPermissionDenied;  // insufficient_privilege
  const std::string_view cls = sqlstate.substr(0, 2);
  if (cls.size() < 2 || cls == "08" || cls == "57") {
    // No result (the connection broke), connection exception, operator intervention
    // (server shutting down, query cancelled): try again later.
    return absl::StatusCode::kUnavailable;
  }
  if (cls == "28") return absl::StatusCode::kPermissionDenied;   // invalid authorization
  if (cls == "53") return absl::StatusCode::kResourceExhausted;  // disk full, out of memory
  if (cls == "40") return absl::StatusCode::kAborted;            // serialization, deadlock
  if (cls == "22" || cls == "23") return absl::StatusCode::kInvalidArgument;  // bad data
  if (cls == "42") return absl::StatusCode::kFailedPrecondition;  // schema not as expected
  if (cls == "54") return absl::StatusCode::kResourceExhausted;   // program limit exceeded
  return absl::StatusCode::kInternal;                             // 58, XX and the rest
}

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
