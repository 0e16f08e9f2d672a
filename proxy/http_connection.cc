#include "proxy/http_connection.h"

#include <arpa/inet.h>

#include <algorithm>
#include <simdjson.h>

#include "proxy/http_auth.h"
#include "proxy/logging.h"
#include "proxy/wipe.h"
#include "proxy/worker.h"

namespace scrub::proxy {
namespace {

constexpr size_t kHttpReadChunk = 64 << 10;
// How long the rest of a rejected request is read and discarded before the socket closes.
constexpr uint64_t kLingerMs = 2000;
constexpr uint64_t kLingerMaxBytes = 4 << 20;

const char* statusText(int status) {
  switch (status) {
  case 100:
    return "Continue";
  case 200:
    return "OK";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 411:
    return "Length Required";
  case 413:
    return "Payload Too Large";
  case 415:
    return "Unsupported Media Type";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 503:
    return "Service Unavailable";
  default:
    return "Error";
  }
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r' ||
                           text.front() == '\n')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

// One parser of each kind per worker thread, reused for every request.
simdjson::dom::parser& domParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}
simdjson::ondemand::parser& ondemandParser() {
  thread_local simdjson::ondemand::parser parser;
  return parser;
}

} // namespace

HttpConnection::HttpConnection(Worker& worker, ListenerRuntime& listener, uint64_t id)
    : worker_(worker), listener_(listener), id_(id) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

HttpConnection::~HttpConnection() {
  wipe(body_);
  wipe(authorization_);
  wipe(api_key_);
  wipe(value_);
  if (read_buffer_) {
    wipe(read_buffer_.get(), kHttpReadChunk);
  }
}

const http_parser_settings& HttpConnection::settings() {
  static const http_parser_settings s = [] {
    http_parser_settings out{};
    out.on_message_begin = onMessageBegin;
    out.on_url = onUrl;
    out.on_header_field = onHeaderField;
    out.on_header_value = onHeaderValue;
    out.on_headers_complete = onHeadersComplete;
    out.on_body = onBody;
    out.on_message_complete = onMessageComplete;
    return out;
  }();
  return s;
}

bool HttpConnection::accept(uv_stream_t* server) {
  uv_loop_t* loop = worker_.loop();
  uv_tcp_init(loop, &io_);
  io_.data = this;
  ++open_handles_;
  uv_timer_init(loop, &timer_);
  timer_.data = this;
  ++open_handles_;
  if (const int rc = uv_accept(server, reinterpret_cast<uv_stream_t*>(&io_)); rc < 0) {
    connLog().warn("accept on {} failed: {}", listener_.url, uv_strerror(rc));
    close("accept failed");
    return false;
  }
  sockaddr_storage addr{};
  int length = sizeof addr;
  char host[INET6_ADDRSTRLEN] = {};
  if (uv_tcp_getpeername(&io_, reinterpret_cast<sockaddr*>(&addr), &length) == 0) {
    if (addr.ss_family == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr);
      uv_ip6_name(v6, host, sizeof host);
      peer_ip_ = host;
      peer_ = "[" + peer_ip_ + "]:" + std::to_string(ntohs(v6->sin6_port));
    } else {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr);
      uv_ip4_name(v4, host, sizeof host);
      peer_ip_ = host;
      peer_ = peer_ip_ + ":" + std::to_string(ntohs(v4->sin_port));
    }
  } else {
    peer_ = peer_ip_ = "unknown peer";
  }
  return true;
}

bool HttpConnection::start() {
  const auto& config = worker_.config();
  if (worker_.shared().open_connections.fetch_add(1) >= config.limits.max_connections) {
    worker_.shared().open_connections.fetch_sub(1);
    close("over max_connections");
    return false;
  }
  counted_ = true;
  connLog().info("connection {} from {} on {} [w{}]", id_, peer_, listener_.url,
                 worker_.workerIndex());
  if (config.limits.idle_timeout.count() > 0) {
    restartTimer(static_cast<uint64_t>(config.limits.idle_timeout.count()));
  }
  if (const int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&io_), onAlloc, onRead); rc < 0) {
    close(uv_strerror(rc));
    return true;
  }
  reading_ = true;
  return true;
}

void HttpConnection::restartTimer(uint64_t ms) {
  uv_timer_start(&timer_, onTimer, ms, 0);
}

void HttpConnection::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<HttpConnection*>(timer->data);
  if (self->state_ == State::Lingering) {
    self->close("rejected request");
    return;
  }
  if (self->state_ == State::Open) {
    self->close("idle for " +
                std::to_string(self->worker_.config().limits.idle_timeout.count() / 1000) + "s");
  }
}

void HttpConnection::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<HttpConnection*>(handle->data);
  if (!self->read_buffer_) {
    self->read_buffer_ = std::make_unique<char[]>(kHttpReadChunk);
  }
  *buf = uv_buf_init(self->read_buffer_.get(), static_cast<unsigned>(kHttpReadChunk));
}

void HttpConnection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
  auto* self = static_cast<HttpConnection*>(stream->data);
  if (nread == 0) {
    return;
  }
  if (nread < 0) {
    self->close(nread == UV_EOF ? std::string("closed by the client")
                                : std::string(uv_strerror(static_cast<int>(nread))));
    return;
  }
  const auto n = static_cast<size_t>(nread);
  if (self->state_ == State::Lingering) {
    self->received_bytes_ += n;
    if (self->received_bytes_ > kLingerMaxBytes) {
      self->close("rejected request");
    }
    return;
  }
  if (self->state_ != State::Open) {
    return;
  }
  const auto& limits = self->worker_.config().limits;
  if (limits.idle_timeout.count() > 0) {
    self->restartTimer(static_cast<uint64_t>(limits.idle_timeout.count()));
  }
  const size_t parsed =
      http_parser_execute(&self->parser_, &settings(), self->read_buffer_.get(), n);
  if (self->state_ != State::Open) {
    return; // answered with close: the rest is discarded
  }
  const auto err = HTTP_PARSER_ERRNO(&self->parser_);
  if (err == HPE_HEADER_OVERFLOW) {
    self->reject(431);
  } else if (err != HPE_OK || parsed != n) {
    self->reject(400);
  }
}

// --- parser callbacks --------------------------------------------------------------------------

void HttpConnection::resetRequest() {
  url_.clear();
  field_.clear();
  wipe(value_);
  in_value_ = false;
  header_bytes_ = 0;
  content_type_.clear();
  content_encoding_.clear();
  expect_.clear();
  wipe(authorization_);
  wipe(api_key_);
  rejected_ = false;
  inflater_.reset();
  received_bytes_ = 0;
  wipe(body_);
  request_records_ = 0;
  request_forwarded_ = 0;
  request_dropped_.fill(0);
}

int HttpConnection::onMessageBegin(http_parser* parser) {
  auto* self = static_cast<HttpConnection*>(parser->data);
  self->resetRequest();
  ++self->requests_;
  return 0;
}

bool HttpConnection::countHeaderBytes(size_t length) {
  header_bytes_ += length;
  if (header_bytes_ > listener_.config->http.max_header_bytes) {
    reject(431);
    return false;
  }
  return true;
}

int HttpConnection::onUrl(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<HttpConnection*>(parser->data);
  if (!self->countHeaderBytes(length)) {
    return -1;
  }
  self->url_.append(at, length);
  return 0;
}

int HttpConnection::onHeaderField(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<HttpConnection*>(parser->data);
  if (!self->countHeaderBytes(length)) {
    return -1;
  }
  if (self->in_value_) {
    self->commitHeader();
  }
  self->field_.append(at, length);
  return 0;
}

int HttpConnection::onHeaderValue(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<HttpConnection*>(parser->data);
  if (!self->countHeaderBytes(length)) {
    return -1;
  }
  self->in_value_ = true;
  self->value_.append(at, length);
  return 0;
}

void HttpConnection::commitHeader() {
  const std::string name = lower(field_);
  const auto& http = listener_.config->http;
  if (name == "content-type") {
    content_type_ = lower(trimmed(value_));
  } else if (name == "content-encoding") {
    content_encoding_ = lower(trimmed(value_));
  } else if (name == "expect") {
    expect_ = lower(trimmed(value_));
  } else if (name == "authorization") {
    authorization_ = value_;
  } else if (!http.api_key_header.empty() && name == lower(http.api_key_header)) {
    api_key_ = value_;
  }
  field_.clear();
  wipe(value_);
  in_value_ = false;
}

int HttpConnection::onHeadersComplete(http_parser* parser) {
  auto* self = static_cast<HttpConnection*>(parser->data);
  if (self->in_value_) {
    self->commitHeader();
  }
  return self->checkHeaders();
}

int HttpConnection::checkHeaders() {
  const auto& http = listener_.config->http;
  const std::string_view path = std::string_view(url_).substr(0, url_.find('?'));
  if (path != http.path) {
    reject(404);
    return 0;
  }
  if (parser_.method != HTTP_POST) {
    reject(405, "Allow: POST\r\n");
    return 0;
  }
  if (http.authRequired()) {
    AuthFailureLimiter& limiter = *listener_.auth_failures;
    const uint64_t now = uv_now(worker_.loop());
    if (limiter.blocked(peer_ip_, now)) {
      reject(429, "Retry-After: " +
                      std::to_string((http.auth_failure_window.count() + 999) / 1000) + "\r\n");
      return 0;
    }
    const AuthDecision decision = authenticate(http, authorization_, api_key_);
    if (decision.result != AuthDecision::Result::Ok) {
      const unsigned failures = limiter.recordFailure(peer_ip_, now);
      worker_.stats().http_auth_failures.add();
      if (failures <= http.max_auth_failures) {
        connLog().warn("connection {} from {} on {}: authentication failed ({}), {} in this window",
                       id_, peer_, listener_.url,
                       decision.result == AuthDecision::Result::Missing ? "no credential"
                                                                        : "wrong credential",
                       failures);
      }
      std::string challenge;
      if (!http.api_keys.empty()) {
        challenge += "WWW-Authenticate: Bearer realm=\"scrubproxy\"\r\n";
      }
      if (!http.basic_users.empty()) {
        challenge += "WWW-Authenticate: Basic realm=\"scrubproxy\", charset=\"UTF-8\"\r\n";
      }
      reject(401, challenge);
      return 0;
    }
    if (decision.credential_id != credential_id_) {
      credential_id_ = decision.credential_id;
      connLog().info("connection {} from {}: authenticated as '{}'", id_, peer_, credential_id_);
    }
  }
  const std::string_view media =
      trimmed(std::string_view(content_type_).substr(0, content_type_.find(';')));
  if (media == "application/x-ndjson" || media == "application/ndjson" ||
      media == "application/jsonl" || media == "application/jsonlines") {
    body_type_ = BodyType::Ndjson;
  } else if (media == "application/json") {
    body_type_ = BodyType::Json;
  } else {
    reject(415);
    return 0;
  }
  if (content_encoding_ == "gzip" || content_encoding_ == "x-gzip") {
    inflater_.emplace(http.max_decompressed_bytes);
  } else if (!content_encoding_.empty() && content_encoding_ != "identity") {
    reject(415);
    return 0;
  }
  const bool chunked = (parser_.flags & F_CHUNKED) != 0;
  const bool has_length = (parser_.flags & F_CONTENTLENGTH) != 0;
  if (!chunked && !has_length) {
    reject(411);
    return 0;
  }
  if (has_length && parser_.content_length > http.max_body_bytes) {
    reject(413);
    return 0;
  }
  if (expect_ == "100-continue") {
    send(100, {}, {}, false);
  }
  return 0;
}

int HttpConnection::onBody(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<HttpConnection*>(parser->data);
  if (self->rejected_) {
    return 0; // keep-alive after a rejection that did not close: read past the body
  }
  const auto& http = self->listener_.config->http;
  self->received_bytes_ += length;
  if (self->received_bytes_ > http.max_body_bytes) {
    self->reject(413);
    return -1;
  }
  if (self->inflater_) {
    switch (self->inflater_->feed(std::string_view(at, length), self->body_)) {
    case GzipInflater::Status::Ok:
      return 0;
    case GzipInflater::Status::TooLarge:
      self->reject(413);
      return -1;
    case GzipInflater::Status::Corrupt:
      self->reject(400);
      return -1;
    }
  }
  self->body_.append(at, length);
  return 0;
}

int HttpConnection::onMessageComplete(http_parser* parser) {
  auto* self = static_cast<HttpConnection*>(parser->data);
  if (self->rejected_) {
    return 0;
  }
  if (self->inflater_ && !self->inflater_->finished()) {
    self->reject(400);
    return -1;
  }
  const bool keep_alive = http_should_keep_alive(parser) != 0;
  if (self->listener_.pressured()) {
    self->worker_.stats().http_busy.add();
    wipe(self->body_);
    self->send(503, "Retry-After: 1\r\n", R"({"error":"sink busy, retry later"})", !keep_alive);
    return 0;
  }
  self->handleRecords();
  if (self->rejected_ || self->state_ != State::Open) {
    return 0;
  }
  std::string summary = "{\"received\":" + std::to_string(self->request_records_) +
                        ",\"forwarded\":" + std::to_string(self->request_forwarded_) +
                        ",\"dropped\":{";
  bool first = true;
  for (size_t i = 1; i < self->request_dropped_.size(); ++i) {
    if (self->request_dropped_[i] > 0) {
      summary += (first ? "\"" : ",\"") + std::string(filters::kDropReasonNames[i]) +
                 "\":" + std::to_string(self->request_dropped_[i]);
      first = false;
    }
  }
  summary += "}}";
  self->send(200, {}, summary, !keep_alive);
  return 0;
}

// --- records -----------------------------------------------------------------------------------

void HttpConnection::forward(std::string_view text) {
  ++request_records_;
  ++records_;
  const auto reason =
      worker_.filter().filterCopy(text, *listener_.rules, worker_.output(), listener_.counters);
  listener_.noteDetectorHits(worker_.output());
  if (reason != filters::DropReason::None) {
    ++request_dropped_[static_cast<size_t>(reason)];
    ++dropped_[static_cast<size_t>(reason)];
    return;
  }
  ++request_forwarded_;
  ++forwarded_;
  for (SinkShard* shard : listener_.shards) {
    shard->push(worker_.output());
  }
}

void HttpConnection::handleRecords() {
  listener_.refreshRules();
  const std::string_view all(body_);
  if (body_type_ == BodyType::Ndjson) {
    size_t start = 0;
    while (start < all.size()) {
      size_t end = all.find('\n', start);
      if (end == std::string_view::npos) {
        end = all.size();
      }
      const std::string_view one = trimmed(all.substr(start, end - start));
      if (!one.empty()) {
        forward(one);
      }
      start = end + 1;
    }
  } else {
    body_.reserve(body_.size() + simdjson::SIMDJSON_PADDING); // before any view into it
    const std::string_view doc_text = trimmed(std::string_view(body_));
    // Checked whole first: a malformed body is refused (400) with nothing of it forwarded.
    simdjson::dom::element root;
    if (doc_text.empty() ||
        domParser().parse(body_.data(), body_.size(), /*realloc_if_needed=*/false).get(root) !=
            simdjson::SUCCESS) {
      reject(400, {}, /*close=*/false);
      wipe(body_);
      return;
    }
    if (root.is_array()) {
      simdjson::ondemand::document doc;
      simdjson::ondemand::array array;
      if (ondemandParser().iterate(body_.data(), body_.size(), body_.capacity()).get(doc) !=
              simdjson::SUCCESS ||
          doc.get_array().get(array) != simdjson::SUCCESS) {
        reject(400, {}, /*close=*/false);
        wipe(body_);
        return;
      }
      for (auto element : array) {
        simdjson::ondemand::value value;
        std::string_view raw;
        simdjson::ondemand::json_type type;
        if (element.get(value) != simdjson::SUCCESS ||
            value.type().get(type) != simdjson::SUCCESS) {
          break; // cannot happen after the DOM check
        }
        simdjson::error_code error = simdjson::SUCCESS;
        if (type == simdjson::ondemand::json_type::object) {
          simdjson::ondemand::object object;
          error = value.get_object().get(object);
          if (error == simdjson::SUCCESS) {
            error = object.raw_json().get(raw);
          }
        } else if (type == simdjson::ondemand::json_type::array) {
          simdjson::ondemand::array inner;
          error = value.get_array().get(inner);
          if (error == simdjson::SUCCESS) {
            error = inner.raw_json().get(raw);
          }
        } else {
          raw = value.raw_json_token();
        }
        if (error != simdjson::SUCCESS) {
          break;
        }
        forward(trimmed(raw));
      }
    } else {
      forward(doc_text);
    }
  }
  wipe(body_);
  worker_.afterRead(listener_);
}

// --- answers -----------------------------------------------------------------------------------

void HttpConnection::reject(int status, const std::string& extra_headers, bool close) {
  rejected_ = true;
  if (state_ != State::Open) {
    return;
  }
  wipe(body_);
  inflater_.reset();
  if (status != 401 && status != 404) {
    worker_.stats().http_rejected.add();
  }
  const std::string body = std::string(R"({"error":")") + statusText(status) + "\"}";
  send(status, extra_headers, body, close);
  if (close && HTTP_PARSER_ERRNO(&parser_) == HPE_OK) {
    http_parser_pause(&parser_, 1); // parse nothing more; the rest is discarded
  }
}

void HttpConnection::send(int status, const std::string& extra_headers, const std::string& body,
                          bool close) {
  if (state_ != State::Open) {
    return;
  }
  auto* write = new WriteRequest;
  write->self = this;
  write->close_after = close;
  write->data = "HTTP/1.1 " + std::to_string(status) + " " + statusText(status) + "\r\n";
  if (status != 100) {
    write->data +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n" + extra_headers + (close ? "Connection: close\r\n" : "") + "\r\n" + body;
  } else {
    write->data += "\r\n";
  }
  write->req.data = write;
  uv_buf_t buf = uv_buf_init(write->data.data(), static_cast<unsigned>(write->data.size()));
  if (const int rc =
          uv_write(&write->req, reinterpret_cast<uv_stream_t*>(&io_), &buf, 1, onWritten);
      rc < 0) {
    delete write;
    this->close(uv_strerror(rc));
    return;
  }
  ++pending_writes_;
  if (close) {
    startLinger();
  }
}

void HttpConnection::onWritten(uv_write_t* req, int status) {
  std::unique_ptr<WriteRequest> write(static_cast<WriteRequest*>(req->data));
  HttpConnection* self = write->self;
  --self->pending_writes_;
  if (status < 0 && status != UV_ECANCELED) {
    self->close(uv_strerror(status));
    return;
  }
  if (write->close_after && self->state_ == State::Lingering) {
    // Our side is done: FIN, then read what the client still sends until it closes.
    if (uv_shutdown(&self->shutdown_req_, reinterpret_cast<uv_stream_t*>(&self->io_), onShutdown) <
        0) {
      self->close("rejected request");
    }
  }
}

void HttpConnection::onShutdown(uv_shutdown_t* req, int status) {
  auto* self = static_cast<HttpConnection*>(req->handle->data);
  if (status < 0 && status != UV_ECANCELED) {
    self->close("rejected request");
  }
}

void HttpConnection::startLinger() {
  if (state_ != State::Open) {
    return;
  }
  state_ = State::Lingering;
  received_bytes_ = 0;
  restartTimer(kLingerMs);
}

void HttpConnection::shutdown() {
  close("proxy stopping");
}

void HttpConnection::close(const std::string& why) {
  if (state_ == State::Closing) {
    return;
  }
  state_ = State::Closing;
  if (reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&io_));
    reading_ = false;
  }
  if (counted_) {
    worker_.shared().open_connections.fetch_sub(1);
    uint64_t dropped = 0;
    std::string reasons;
    for (size_t i = 1; i < dropped_.size(); ++i) {
      if (dropped_[i] > 0) {
        dropped += dropped_[i];
        reasons += (reasons.empty() ? "" : " ") + std::string(filters::kDropReasonNames[i]) + "=" +
                   std::to_string(dropped_[i]);
      }
    }
    connLog().info("connection {} closed ({}): requests={} records={} forwarded={} dropped={}{}",
                   id_, why, requests_, records_, forwarded_, dropped,
                   reasons.empty() ? "" : " (" + reasons + ")");
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&io_), onClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), onClosed);
}

void HttpConnection::onClosed(uv_handle_t* handle) {
  auto* self = static_cast<HttpConnection*>(handle->data);
  if (--self->open_handles_ == 0) {
    self->worker_.onHttpConnectionClosed(self);
  }
}

} // namespace scrub::proxy
