#include "cli/ui_server.h"

#include <iostream>

#include "httplib.h"

namespace unibus::cli {

void AddUiFlags(CLI::App* app, UiFlags* flags, bool with_keep) {
  app->add_option("--ui", flags->address,
                  "serve the live pipeline page on HOST:PORT, e.g. 127.0.0.1:8080 (port 0: any "
                  "free port; the URL is printed on stderr)");
  app->add_flag("--ui-allow-remote", flags->allow_remote,
                "allow --ui on an address other than loopback (it has no authentication)");
  if (with_keep) {
    app->add_flag("--ui-keep", flags->keep,
                  "after the run, keep serving the page with the final figures until Ctrl-C or "
                  "SIGTERM");
  }
}

absl::StatusOr<std::unique_ptr<UiServer>> UiServer::Start(const UiFlags& flags,
                                                          std::shared_ptr<const UiState> state) {
  if (flags.address.empty()) return std::unique_ptr<UiServer>();
  auto s = Start(flags.address, flags.allow_remote, std::move(state));
  if (s.ok())
    std::cerr << "unibus: serving the pipeline page on " << (*s)->listener_->Url() << "/\n";
  return s;
}

absl::StatusOr<std::unique_ptr<UiServer>> UiServer::Start(const std::string& address,
                                                          bool allow_remote,
                                                          std::shared_ptr<const UiState> state) {
  std::unique_ptr<UiServer> s(new UiServer());
  s->state_ = std::move(state);
  UiServer* self = s.get();
  auto listener = HttpListener::Start("--ui", address, allow_remote, [self](httplib::Server& svr) {
    svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kUiPageHtml, "text/html; charset=utf-8");
    });
    svr.Get("/api/state", [self](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_content(self->state_->Json(), "application/json");
    });
  });
  if (!listener.ok()) return listener.status();
  s->listener_ = std::move(*listener);
  return s;
}

}  // namespace unibus::cli
