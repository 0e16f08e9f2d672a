#include "proxy/admin_server.h"

#include <unistd.h>

#include "proxy/http_status.h"
#include "proxy/listen_socket.h"
#include "proxy/logging.h"

namespace scrub::proxy {

// One client: one request, one answer, then close (the pages are small and scrapes are seconds
// apart, so keep-alive would only add states).
class AdminServer::Connection {
public:
  Connection(AdminServer& server) : server_(server) {
    http_parser_init(&parser_, HTTP_REQUEST);
    parser_.data = this;
  }

  bool accept(uv_stream_t* listener) {
    uv_tcp_init(server_.loop_, &tcp_);
    tcp_.data = this;
    uv_timer_init(server_.loop_, &timer_);
    timer_.data = this;
    open_handles_ = 2;
    if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&tcp_)) < 0) {
      close();
      return false;
    }
    uv_timer_start(&timer_, onTimeout, kRequestTimeoutMs, 0);
    if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), onAlloc, onRead) < 0) {
      close();
      return false;
    }
    return true;
  }

  void close() {
    if (closing_) {
      return;
    }
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), onClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), onClosed);
  }

private:
  struct WriteRequest {
    uv_write_t req{};
    std::string data;
  };

  static const http_parser_settings& settings() {
    static const http_parser_settings s = [] {
      http_parser_settings out{};
      out.on_url = [](http_parser* parser, const char* at, size_t length) {
        auto* self = static_cast<Connection*>(parser->data);
        self->url_.append(at, length);
        return self->countHeaderBytes(length);
      };
      out.on_header_field = [](http_parser* parser, const char*, size_t length) {
        return static_cast<Connection*>(parser->data)->countHeaderBytes(length);
      };
      out.on_header_value = [](http_parser* parser, const char*, size_t length) {
        return static_cast<Connection*>(parser->data)->countHeaderBytes(length);
      };
      out.on_headers_complete = [](http_parser* parser) {
        auto* self = static_cast<Connection*>(parser->data);
        if (parser->method != HTTP_GET && parser->method != HTTP_HEAD) {
          self->respond({405, "text/plain; charset=utf-8", "GET or HEAD only\n"},
                        "Allow: GET, HEAD\r\n");
          return -1;
        }
        return 0;
      };
      out.on_body = [](http_parser* parser, const char*, size_t) {
        static_cast<Connection*>(parser->data)
            ->respond({400, "text/plain; charset=utf-8", "no request body expected\n"});
        return -1;
      };
      out.on_message_complete = [](http_parser* parser) {
        static_cast<Connection*>(parser->data)->handleRequest();
        return -1; // one request per connection: parse nothing after it
      };
      return out;
    }();
    return s;
  }

  int countHeaderBytes(size_t length) {
    header_bytes_ += length;
    if (header_bytes_ > kMaxHeaderBytes) {
      respond({431, "text/plain; charset=utf-8", "request header too large\n"});
      return -1;
    }
    return 0;
  }

  void handleRequest() {
    head_ = parser_.method == HTTP_HEAD;
    if (parser_.method != HTTP_GET && parser_.method != HTTP_HEAD) {
      respond({405, "text/plain; charset=utf-8", "GET or HEAD only\n"}, "Allow: GET, HEAD\r\n");
      return;
    }
    const std::string_view path = std::string_view(url_).substr(0, url_.find('?'));
    respond(server_.handler_(path));
  }

  void respond(const AdminResponse& response, std::string_view extra_headers = {}) {
    if (responded_ || closing_) {
      return;
    }
    responded_ = true;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    auto write = std::make_unique<WriteRequest>();
    write->data = "HTTP/1.1 " + std::to_string(response.status) + " " +
                  httpStatusText(response.status) + "\r\nContent-Type: " + response.content_type +
                  "\r\nContent-Length: " + std::to_string(response.body.size()) +
                  "\r\nCache-Control: no-store\r\nConnection: close\r\n";
    write->data += extra_headers;
    write->data += "\r\n";
    if (!head_) {
      write->data += response.body;
    }
    write->req.data = this;
    uv_buf_t buf = uv_buf_init(write->data.data(), static_cast<unsigned>(write->data.size()));
    if (uv_write(&write->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, onWritten) < 0) {
      close();
      return;
    }
    write_ = std::move(write);
  }

  static void onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    auto* self = static_cast<Connection*>(handle->data);
    *buf = uv_buf_init(self->read_buffer_, sizeof self->read_buffer_);
  }

  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
    auto* self = static_cast<Connection*>(stream->data);
    if (nread == 0 || self->closing_) {
      return;
    }
    if (nread < 0) {
      if (!self->responded_) {
        self->close();
      }
      return;
    }
    const auto n = static_cast<size_t>(nread);
    const size_t parsed = http_parser_execute(&self->parser_, &settings(), self->read_buffer_, n);
    if (!self->responded_ && (HTTP_PARSER_ERRNO(&self->parser_) != HPE_OK || parsed != n)) {
      self->respond({400, "text/plain; charset=utf-8", "malformed request\n"});
    }
  }

  static void onWritten(uv_write_t* req, int) {
    auto* self = static_cast<Connection*>(req->data);
    self->write_.reset();
    self->close();
  }

  static void onTimeout(uv_timer_t* timer) {
    auto* self = static_cast<Connection*>(timer->data);
    if (!self->responded_) {
      self->respond({408, "text/plain; charset=utf-8", "request timeout\n"});
    }
  }

  static void onClosed(uv_handle_t* handle) {
    auto* self = static_cast<Connection*>(handle->data);
    if (--self->open_handles_ == 0) {
      self->server_.onConnectionClosed(self);
    }
  }

  AdminServer& server_;
  uv_tcp_t tcp_{};
  uv_timer_t timer_{};
  int open_handles_ = 0;
  bool closing_ = false;
  bool responded_ = false;
  bool head_ = false;
  http_parser parser_{};
  std::string url_;
  size_t header_bytes_ = 0;
  std::unique_ptr<WriteRequest> write_;
  char read_buffer_[4096];
};

AdminServer::AdminServer(uv_loop_t* loop, AdminHandler handler)
    : loop_(loop), handler_(std::move(handler)) {}

AdminServer::~AdminServer() = default;

Status AdminServer::open(int fd) {
  uv_tcp_init(loop_, &server_);
  server_.data = this;
  open_ = true;
  if (const int rc = uv_tcp_open(&server_, fd); rc < 0) {
    ::close(fd);
    close();
    return Error{std::string("admin endpoint: ") + uv_strerror(rc)};
  }
  if (const int rc =
          uv_listen(reinterpret_cast<uv_stream_t*>(&server_), kListenBacklog, onConnection);
      rc < 0) {
    close();
    return Error{std::string("admin endpoint: ") + uv_strerror(rc)};
  }
  return Ok{};
}

void AdminServer::close() {
  if (open_) {
    open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&server_), nullptr);
  }
  for (auto& [raw, connection] : connections_) {
    connection->close();
  }
}

void AdminServer::onConnection(uv_stream_t* server, int status) {
  auto* self = static_cast<AdminServer*>(server->data);
  if (status < 0 || !self->open_) {
    return;
  }
  auto owned = std::make_unique<Connection>(*self);
  Connection* connection = owned.get();
  self->connections_.emplace(connection, std::move(owned));
  connection->accept(server);
}

void AdminServer::onConnectionClosed(Connection* connection) {
  connections_.erase(connection);
}

} // namespace scrub::proxy
