// The one HTTP listener behind the CLI's servers (--metrics, --ui): HOST:PORT
// parsing, the loopback rule, and a bound cpp-httplib server on its own thread.
#ifndef UNIBUS_CLI_HTTP_LISTEN_H_
#define UNIBUS_CLI_HTTP_LISTEN_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace unibus::cli {

// An address a flag gave, split: "127.0.0.1:9464", "localhost:0", "[::1]:8080", ":80"
// (host 0.0.0.0). InvalidArgument naming `flag` when it is not HOST:PORT (port 0 to
// 65535).
struct ListenAddress {
  std::string host;  // without IPv6 brackets
  int port = 0;      // 0: any free port
};
absl::StatusOr<ListenAddress> ParseListenAddress(const std::string& flag,
                                                 const std::string& address);

// True for localhost, ::1 and 127.0.0.0/8.
bool IsLoopbackHost(const std::string& host);

// A cpp-httplib server listening on one address, on its own threads: 4 workers,
// one request per connection, an idle connection dropped after 1 s (a browser keeps
// several open; a scraper makes one request per scrape). Not SO_REUSEPORT, so a
// second process cannot share a port in use.
class HttpListener {
 public:
  // Parses `address` (given as `flag`), refuses a non-loopback host unless
  // `allow_remote` (InvalidArgument naming `flag`-allow-remote), lets `routes` add
  // its handlers, binds and starts serving. Unavailable naming the port when it is
  // taken or the address is not on this machine.
  static absl::StatusOr<std::unique_ptr<HttpListener>> Start(
      const std::string& flag, const std::string& address, bool allow_remote,
      const std::function<void(httplib::Server&)>& routes);
  ~HttpListener();  // stops listening and joins

  int port() const { return port_; }
  const std::string& host() const { return host_; }
  // "http://HOST:PORT" (an IPv6 host in brackets).
  std::string Url() const;

 private:
  HttpListener() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> done_{false};  // the listen loop returned
  std::string host_;
  int port_ = 0;
};

}  // namespace unibus::cli

#endif  // UNIBUS_CLI_HTTP_LISTEN_H_
