#include "cli/ui_server.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <chrono>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace unibus::cli {
namespace {

bool IsLoopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return false;
}

}  // namespace

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
  if (s.ok()) {
    const std::string& h = (*s)->host();
    std::cerr << "unibus: serving the pipeline page on http://"
              << (h.find(':') != std::string::npos ? "[" + h + "]" : h) << ":" << (*s)->port()
              << "/\n";
  }
  return s;
}

absl::StatusOr<std::unique_ptr<UiServer>> UiServer::Start(const std::string& address,
                                                          bool allow_remote,
                                                          std::shared_ptr<const UiState> state) {
  const auto colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--ui '", address, "' is not HOST:PORT (for example 127.0.0.1:8080)"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  if (!allow_remote && !IsLoopback(host)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--ui ", address,
                     " is not a loopback address; the page has no authentication, so serve it "
                     "on 127.0.0.1 or pass --ui-allow-remote"));
  }
  std::unique_ptr<UiServer> s(new UiServer());
  s->state_ = std::move(state);
  s->host_ = host;
  s->server_ = std::make_unique<httplib::Server>();
  httplib::Server& svr = *s->server_;
  // httplib's default sets SO_REUSEPORT, which would let a second process share a
  // port in use; SO_REUSEADDR alone still allows a quick restart.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // httplib gives each connection a pool thread for as long as it is kept alive, and
  // a browser keeps several open (and preconnects idle ones): with few threads a
  // second tab waited seconds for /api/state. One request per connection, and an
  // idle socket is dropped after a second.
  svr.new_task_queue = [] { return new httplib::ThreadPool(4); };
  svr.set_keep_alive_max_count(1);
  svr.set_read_timeout(1, 0);
  UiServer* self = s.get();
  svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kUiPageHtml, "text/html; charset=utf-8");
  });
  svr.Get("/api/state", [self](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(self->state_->Json(), "application/json");
  });
  if (port == 0) {
    port = svr.bind_to_any_port(host);
    if (port < 0) port = -1;
  } else if (!svr.bind_to_port(host, port)) {
    port = -1;
  }
  if (port < 0) {
    return absl::UnavailableError(absl::StrCat(
        "--ui ", address, ": cannot listen there; port ", address.substr(colon + 1),
        " is already in use (or the address is not on this machine); pick another port"));
  }
  s->port_ = port;
  s->thread_ = std::thread([self] {
    self->server_->listen_after_bind();
    self->done_ = true;
  });
  return s;
}

UiServer::~UiServer() {
  if (thread_.joinable()) {
    // stop() is a no-op until the listen loop runs; wait for it to start (or end).
    while (!done_ && !server_->is_running())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server_->stop();
    thread_.join();
  }
}

}  // namespace unibus::cli
