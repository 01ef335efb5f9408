#include "pipeline/store_check.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/c_handle.h"
#include "sqlite/schema.h"

namespace unibus::pipeline {
namespace {

constexpr char kWhatToDo[] =
    "; unibus will not change it: give --db a new file, an empty database, or an existing "
    "unibus predictions store";

// What one SQLite query returned: its rows (every column as text) or the error code.
struct Rows {
  int rc = SQLITE_OK;
  std::vector<std::vector<std::string>> rows;
};

Rows Query(sqlite3* db, const char* sql) {
  Rows out;
  sqlite3_stmt* raw = nullptr;
  out.rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  core_internal::CHandle<sqlite3_stmt, sqlite3_finalize> st(raw);
  if (out.rc != SQLITE_OK) return out;
  while ((out.rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(st.get()); ++i) {
      const auto* text = sqlite3_column_text(st.get(), i);
      row.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
    }
    out.rows.push_back(std::move(row));
  }
  if (out.rc == SQLITE_DONE) out.rc = SQLITE_OK;
  return out;
}

// The refusal for a database holding `tables` (some of which may be ours).
absl::Status Foreign(const std::string& what, const std::vector<std::string>& tables,
                     const std::string& detail = "") {
  return absl::FailedPreconditionError(
      absl::StrCat(what, " is not a unibus predictions store (", detail, detail.empty() ? "" : "; ",
                   "tables: ", absl::StrJoin(tables, ", "), ")", kWhatToDo));
}

// The verdict once the tables and, when there is one, the predictions table's
// columns are known. Shared by SQLite and PostgreSQL.
absl::Status Judge(const std::string& what, const std::vector<std::string>& tables,
                   const std::vector<std::string>& predictions_columns) {
  if (tables.empty()) return absl::OkStatus();
  if (tables.size() > 1 || tables[0] != "predictions") return Foreign(what, tables);
  if (!IsPredictionsTable(predictions_columns)) {
    return Foreign(what, tables,
                   absl::StrCat("its predictions table has other columns: ",
                                absl::StrJoin(predictions_columns, ", ")));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsPredictionsTable(std::vector<std::string> columns) {
  std::vector<std::string> ours(std::begin(kPredictionColumns), std::end(kPredictionColumns));
  std::sort(columns.begin(), columns.end());
  std::sort(ours.begin(), ours.end());
  return columns == ours;
}

absl::Status CheckSqliteOwnership(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size == 0) return absl::OkStatus();  // new; the real open reports what is wrong
  const std::string what = absl::StrCat("predictions database '", path, "'");
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  core_internal::CHandle<sqlite3, sqlite3_close_v2> db(raw);
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(
        absl::StrCat("cannot open ", what, ": ", raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(db.get(), 10000);
  Rows app = Query(db.get(), "PRAGMA application_id");
  if (app.rc == SQLITE_NOTADB) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " is not a SQLite database", kWhatToDo));
  }
  if (app.rc != SQLITE_OK || app.rows.empty()) {
    return absl::UnavailableError(
        absl::StrCat("cannot read ", what, ": ", sqlite3_errmsg(db.get())));
  }
  const std::string& id = app.rows[0][0];
  if (id == std::to_string(sqlite_internal::kApplicationId)) return absl::OkStatus();
  if (id != "0") {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " belongs to another application (application_id ", id, ")", kWhatToDo));
  }
  Rows objects = Query(db.get(),
                       "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') "
                       "OR tbl_name <> 'predictions' ORDER BY name");
  if (objects.rc != SQLITE_OK) {
    return absl::UnavailableError(
        absl::StrCat("cannot read the schema of ", what, ": ", sqlite3_errmsg(db.get())));
  }
  std::vector<std::string> tables;
  for (auto& r : objects.rows) tables.push_back(r[0]);
  std::vector<std::string> columns;
  if (tables.size() == 1 && tables[0] == "predictions") {
    Rows cols = Query(db.get(), "SELECT name FROM pragma_table_info('predictions')");
    for (auto& r : cols.rows) columns.push_back(r[0]);
  }
  return Judge(what, tables, columns);
}

absl::Status CheckPostgresOwnership(PGconn* conn, const std::string& what) {
  auto query = [&](const char* sql, std::vector<std::string>* out) -> absl::Status {
    core_internal::CHandle<PGresult, PQclear> r(PQexec(conn, sql));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
      return absl::UnavailableError(
          absl::StrCat("PostgreSQL '", what, "': reading its schema: ", PQerrorMessage(conn)));
    }
    for (int i = 0; i < PQntuples(r.get()); ++i) out->emplace_back(PQgetvalue(r.get(), i, 0));
    return absl::OkStatus();
  };
  std::vector<std::string> tables, columns;
  if (auto s = query("SELECT table_name FROM information_schema.tables "
                     "WHERE table_schema = current_schema() ORDER BY table_name",
                     &tables);
      !s.ok())
    return s;
  if (tables.size() == 1 && tables[0] == "predictions") {
    if (auto s = query("SELECT column_name FROM information_schema.columns "
                       "WHERE table_schema = current_schema() AND table_name = 'predictions'",
                       &columns);
        !s.ok())
      return s;
  }
  return Judge(absl::StrCat("PostgreSQL database '", what, "'"), tables, columns);
}

}  // namespace unibus::pipeline
