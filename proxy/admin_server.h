#pragma once

// The admin endpoint's HTTP side: accepts connections on the main thread's loop, reads one GET
// (or HEAD) request per connection with http_parser, asks the handler for the answer and closes
// after writing it. What the pages say is the handler's business (Server), so this file knows
// nothing of metrics or rules.
//
// Bounded like the ingress: a request line and headers over kMaxHeaderBytes, a body, or a client
// that takes longer than kRequestTimeoutMs are answered with an error and closed.
//
// Lifetime: open() on the loop's thread; close() closes the listening handle and every
// connection; the object may be destroyed once the loop has run their close callbacks (after
// uv_run returned).

#include <http_parser.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "rules/result.h"

namespace scrub::proxy {

struct AdminResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Called with the request's path (query string removed); GET and HEAD only reach it.
using AdminHandler = std::function<AdminResponse(std::string_view path)>;

class AdminServer {
public:
  static constexpr size_t kMaxHeaderBytes = 8 << 10;
  static constexpr uint64_t kRequestTimeoutMs = 10000;

  AdminServer(uv_loop_t* loop, AdminHandler handler);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Takes `fd`, a TCP socket already bound and listening, and starts accepting.
  Status open(int fd);
  void close();

private:
  class Connection;

  static void onConnection(uv_stream_t* server, int status);
  void onConnectionClosed(Connection* connection);

  uv_loop_t* loop_;
  AdminHandler handler_;
  uv_tcp_t server_{};
  bool open_ = false;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
};

} // namespace scrub::proxy
