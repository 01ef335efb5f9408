#include "cli/http_listen.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace unibus::cli {

absl::StatusOr<ListenAddress> ParseListenAddress(const std::string& flag,
                                                 const std::string& address) {
  const auto colon = address.rfind(':');
  ListenAddress a;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &a.port) ||
      a.port < 0 || a.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " '", address, "' is not HOST:PORT with a port from 0 to 65535 (for example ",
        "127.0.0.1:8080; port 0 picks a free one)"));
  }
  a.host = address.substr(0, colon);
  if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']')
    a.host = a.host.substr(1, a.host.size() - 2);
  if (a.host.empty()) a.host = "0.0.0.0";
  return a;
}

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return false;
}

absl::StatusOr<std::unique_ptr<HttpListener>> HttpListener::Start(
    const std::string& flag, const std::string& address, bool allow_remote,
    const std::function<void(httplib::Server&)>& routes) {
  auto a = ParseListenAddress(flag, address);
  if (!a.ok()) return a.status();
  if (!allow_remote && !IsLoopbackHost(a->host)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", address,
                     " is not a loopback address; the server has no authentication, so serve "
                     "it on 127.0.0.1 or pass ",
                     flag, "-allow-remote"));
  }
  std::unique_ptr<HttpListener> l(new HttpListener());
  l->host_ = a->host;
  l->server_ = std::make_unique<httplib::Server>();
  httplib::Server& svr = *l->server_;
  // httplib's default sets SO_REUSEPORT, which would let a second process share a
  // port in use; SO_REUSEADDR alone still allows a quick restart.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // httplib gives each connection a pool thread for as long as it is kept alive, and
  // a browser keeps several open (and preconnects idle ones): with few threads a
  // second tab waited seconds. One request per connection, and an idle socket is
  // dropped after a second.
  svr.new_task_queue = [] { return new httplib::ThreadPool(4); };
  svr.set_keep_alive_max_count(1);
  svr.set_read_timeout(1, 0);
  routes(svr);
  int port = a->port;
  if (port == 0) {
    port = svr.bind_to_any_port(a->host);
  } else if (!svr.bind_to_port(a->host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return absl::UnavailableError(absl::StrCat(
        flag, " ", address, ": cannot listen there; port ", a->port,
        " is already in use (or the address is not on this machine); pick another port"));
  }
  l->port_ = port;
  HttpListener* self = l.get();
  l->thread_ = std::thread([self] {
    self->server_->listen_after_bind();
    self->done_ = true;
  });
  return l;
}

std::string HttpListener::Url() const {
  return absl::StrCat("http://", host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_,
                      ":", port_);
}

HttpListener::~HttpListener() {
  if (thread_.joinable()) {
    // stop() is a no-op until the listen loop runs; wait for it to start (or end).
    while (!done_ && !server_->is_running())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server_->stop();
    thread_.join();
  }
}

}  // namespace unibus::cli
