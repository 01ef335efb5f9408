// --ui HOST:PORT: the live pipeline page of `unibus pipeline` and `unibus classify`,
// one embedded HTML+JS page polling GET /api/state, served with cpp-httplib.
#ifndef UNIBUS_CLI_UI_SERVER_H_
#define UNIBUS_CLI_UI_SERVER_H_

#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "cli/http_listen.h"
#include "cli/ui_state.h"

namespace unibus::cli {

struct UiFlags {
  std::string address;        // HOST:PORT; empty: no page
  bool allow_remote = false;  // serve on an address other than loopback
  bool keep = false;          // keep serving the final figures after the run, until a signal
};

// Adds --ui, --ui-allow-remote and (when `with_keep`) --ui-keep to `app`.
void AddUiFlags(CLI::App* app, UiFlags* flags, bool with_keep);

// An HTTP server on its own threads:
//   GET /            the page (src/cli/ui/index.html, compiled in)
//   GET /api/state   UiState::Json(), never cached
class UiServer {
 public:
  // Listens on `address` ("127.0.0.1:8080", "localhost:0" for any free port,
  // "[::1]:8080"), see HttpListener. InvalidArgument for a malformed address, or one
  // that is not loopback unless `allow_remote`; Unavailable when the port is taken,
  // naming it.
  static absl::StatusOr<std::unique_ptr<UiServer>> Start(const std::string& address,
                                                         bool allow_remote,
                                                         std::shared_ptr<const UiState> state);
  // Starts the page `flags` ask for and prints its URL on stderr, or returns null
  // when they ask for none.
  static absl::StatusOr<std::unique_ptr<UiServer>> Start(const UiFlags& flags,
                                                         std::shared_ptr<const UiState> state);
  ~UiServer() = default;  // stops listening and joins

  int port() const { return listener_->port(); }
  const std::string& host() const { return listener_->host(); }

 private:
  UiServer() = default;
  std::shared_ptr<const UiState> state_;
  std::unique_ptr<HttpListener> listener_;  // last: stopped before the rest goes
};

// For --ui-keep: says on stderr that the page stays up, then blocks until SIGINT or
// SIGTERM.
void KeepServingUntilSignal();

// The page's HTML (generated from src/cli/ui/index.html at configure time).
extern const char kUiPageHtml[];

}  // namespace unibus::cli

#endif  // UNIBUS_CLI_UI_SERVER_H_
