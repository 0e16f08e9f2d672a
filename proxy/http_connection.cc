#include "proxy/http_connection.h"

#include <arpa/inet.h>

#include "proxy/http_auth.h"
#include "proxy/http_status.h"
#include "proxy/logging.h"
#include "proxy/tls/tls_write.h"
#include "proxy/wipe.h"
#include "proxy/worker.h"

namespace scrub::proxy {
namespace {

constexpr size_t kHttpReadChunk = 64 << 10;
constexpr size_t kTlsReadChunk = 17 << 10; // a little more than one TLS record
// How long the rest of a rejected request is read and discarded before the socket closes.
constexpr uint64_t kLingerMs = 2000;
constexpr uint64_t kLingerMaxBytes = 4 << 20;

} // namespace

HttpConnection::HttpConnection(Worker& worker, ListenerRuntime& listener, uint64_t id)
    : worker_(worker), listener_(listener), id_(id), parser_(listener.config->http, *this) {}

HttpConnection::~HttpConnection() {
  if (read_buffer_) {
    wipe(read_buffer_.get(), kHttpReadChunk);
  }
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
  if (listener_.tls != nullptr) {
    tls_ = std::make_unique<tls::TlsSession>(listener_.tls->get());
  }
  armTimer();
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

void HttpConnection::armTimer() {
  // The idle timeout restarts at every read, so it cannot stop a client that trickles a request
  // in a byte at a time (slowloris): the request's own deadline, set at its first byte, can.
  const auto idle = worker_.config().limits.idle_timeout.count();
  uint64_t ms = idle > 0 ? static_cast<uint64_t>(idle) : 0;
  if (request_deadline_ms_ > 0) {
    const uint64_t now = uv_now(worker_.loop());
    const uint64_t left = request_deadline_ms_ > now ? request_deadline_ms_ - now : 1;
    ms = ms == 0 ? left : std::min(ms, left);
  }
  if (ms > 0) {
    restartTimer(ms);
  } else {
    uv_timer_stop(&timer_);
  }
}

void HttpConnection::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<HttpConnection*>(timer->data);
  if (self->state_ == State::Open && self->request_deadline_ms_ > 0 &&
      uv_now(self->worker_.loop()) >= self->request_deadline_ms_) {
    self->request_deadline_ms_ = 0;
    connLog().info("connection {} from {}: request not complete within {}ms: 408", self->id_,
                   self->peer_, self->listener_.config->http.request_timeout.count());
    self->onReject(408, {}, true);
    return;
  }
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
  if (self->tls_) {
    if (!self->ciphertext_) {
      self->ciphertext_ = std::make_unique<char[]>(kTlsReadChunk);
    }
    *buf = uv_buf_init(self->ciphertext_.get(), static_cast<unsigned>(kTlsReadChunk));
    return;
  }
  *buf = uv_buf_init(self->read_buffer_.get(), static_cast<unsigned>(kHttpReadChunk));
}

void HttpConnection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<HttpConnection*>(stream->data);
  if (nread == 0) {
    return;
  }
  self->worker_.markReceipt();
  if (nread < 0) {
    self->close(nread == UV_EOF ? std::string("closed by the client")
                                : std::string(uv_strerror(static_cast<int>(nread))));
    return;
  }
  const auto n = static_cast<size_t>(nread);
  if (self->state_ == State::Lingering) {
    self->linger_bytes_ += n;
    if (self->linger_bytes_ > kLingerMaxBytes) {
      self->close("rejected request");
    }
    return;
  }
  if (self->state_ != State::Open) {
    return;
  }
  self->armTimer();
  if (self->tls_) {
    self->tls_->feed(std::string_view(buf->base, n));
    self->pumpTls();
    return;
  }
  self->parse(n);
}

void HttpConnection::parse(size_t n) {
  parser_.feed(std::string_view(read_buffer_.get(), n));
}

bool HttpConnection::pumpTls() {
  auto status = tls::TlsSession::ReadStatus::WantMore;
  // Plaintext is decrypted into read_buffer_ (wiped when the connection is freed) and parsed
  // there, exactly like a plain read.
  while (state_ == State::Open && tls_->handshakeDone()) {
    const auto result = tls_->read(std::span<char>(read_buffer_.get(), kHttpReadChunk));
    status = result.status;
    if (status != tls::TlsSession::ReadStatus::Data) {
      break;
    }
    parse(result.n);
  }
  if (state_ == State::Closing) {
    return false;
  }
  const tls::PumpEnd end =
      tls::finishRound(*tls_, reinterpret_cast<uv_stream_t*>(&io_), status, tls_established_, id_);
  if (end.kind == tls::PumpEnd::Kind::Failed && end.handshake) {
    worker_.listenerStats(listener_.index).tls_handshake_failures.add();
  }
  if (end.kind != tls::PumpEnd::Kind::Open) {
    close(end.why);
    return false;
  }
  return true;
}

// --- requests (HttpRequestHandler) ------------------------------------------------------------

void HttpConnection::onRequestBegin() {
  const auto timeout = listener_.config->http.request_timeout.count();
  request_deadline_ms_ = timeout > 0 ? uv_now(worker_.loop()) + static_cast<uint64_t>(timeout) : 0;
  armTimer();
  ++requests_;
  request_records_ = 0;
  request_forwarded_ = 0;
  request_dropped_.fill(0);
  request_overflow_ = false;
}

HttpRequestHandler::AuthAnswer HttpConnection::authorize(std::string_view authorization,
                                                         std::string_view api_key) {
  const auto& http = listener_.config->http;
  AuthFailureLimiter& limiter = *listener_.auth_failures;
  const uint64_t now = uv_now(worker_.loop());
  if (limiter.blocked(peer_ip_, now)) {
    return {429, "Retry-After: " + std::to_string((http.auth_failure_window.count() + 999) / 1000) +
                     "\r\n"};
  }
  const AuthDecision decision = authenticate(http, authorization, api_key);
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
    return {401, challenge};
  }
  if (decision.credential_id != credential_id_) {
    credential_id_ = decision.credential_id;
    connLog().info("connection {} from {}: authenticated as '{}'", id_, peer_, credential_id_);
  }
  return {};
}

void HttpConnection::onContinue() {
  send(100, {}, {}, false);
}

void HttpConnection::onRequest(std::string& body, HttpBodyType type, bool keep_alive) {
  request_deadline_ms_ = 0;
  armTimer(); // back to the idle timeout: the deadline may be armed and is no longer due
  if (listener_.pressured()) {
    worker_.stats().http_busy.add();
    wipe(body);
    send(503, "Retry-After: 1\r\n", R"({"error":"sink busy, retry later"})", !keep_alive);
    return;
  }
  listener_.refreshRules();
  const bool ack_sink = listener_.config->http.ack == config::HttpListenerConfig::Ack::Sink;
  std::vector<std::pair<HttpSinkShard*, uint64_t>> before; // each HTTP sink's last line so far
  if (ack_sink) {
    for (SinkShard* shard : listener_.shards) {
      if (auto* http = dynamic_cast<HttpSinkShard*>(shard)) {
        before.emplace_back(http, http->pushedLines());
      }
    }
  }
  if (!splitRecords(body, type, [this](std::string_view record) { forward(record); })) {
    onReject(400, {}, /*close=*/false);
    return;
  }
  wipe(body);
  worker_.afterRead(listener_);
  if (state_ != State::Open) {
    return;
  }
  std::string summary = "{\"received\":" + std::to_string(request_records_) +
                        ",\"forwarded\":" + std::to_string(request_forwarded_) + ",\"dropped\":{";
  bool first = true;
  for (size_t i = 1; i < request_dropped_.size(); ++i) {
    if (request_dropped_[i] > 0) {
      summary += (first ? "\"" : ",\"") + std::string(filters::kDropReasonNames[i]) +
                 "\":" + std::to_string(request_dropped_[i]);
      first = false;
    }
  }
  summary += "}}";
  if (ack_sink && request_overflow_) {
    worker_.stats().http_busy.add();
    send(503, "Retry-After: 1\r\n", R"({"error":"sink busy, retry later"})", !keep_alive);
    return;
  }
  if (ack_sink) {
    auto answer = std::make_shared<PendingAnswer>();
    answer->status = 200;
    answer->body = std::move(summary);
    answer->close = !keep_alive;
    if (!ack_token_) {
      ack_token_ = std::make_shared<int>(0);
    }
    const std::weak_ptr<int> token = ack_token_;
    for (const auto& [shard, first] : before) {
      const uint64_t last = shard->pushedLines();
      if (last == first) {
        continue; // nothing of this request went to that sink
      }
      const bool waiting = shard->awaitAck(first, last, [this, token, answer](AckResult result) {
        if (!token.expired()) {
          onAck(answer, result);
        }
      });
      if (waiting) {
        ++answer->acks;
      } else {
        answer->result = AckResult::Shutdown; // the sink is already closing
      }
    }
    if (answer->acks > 0) {
      answers_.push_back(answer);
      stopReading();
      uv_timer_stop(&timer_); // waiting for the sinks is not idleness
      return;
    }
    if (answer->result == AckResult::Shutdown) {
      send(503, "Retry-After: 1\r\n", R"({"error":"stopped before the sink acknowledged"})", true);
      return;
    }
    send(200, {}, answer->body, answer->close);
    return;
  }
  send(200, {}, summary, !keep_alive);
}

void HttpConnection::onAck(const std::shared_ptr<PendingAnswer>& answer, AckResult result) {
  if (result == AckResult::Dropped ||
      (result == AckResult::Shutdown && answer->result == AckResult::Delivered)) {
    answer->result = result;
  }
  if (--answer->acks > 0) {
    return;
  }
  switch (answer->result) {
  case AckResult::Delivered:
    break;
  case AckResult::Dropped:
    worker_.stats().http_rejected.add();
    answer->status = 502;
    answer->body = R"({"error":"the sink refused some records"})";
    break;
  case AckResult::Shutdown:
    answer->status = 503;
    answer->extra_headers = "Retry-After: 1\r\n";
    answer->body = R"({"error":"stopped before the sink acknowledged"})";
    answer->close = true;
    break;
  }
  flushAnswers();
}

void HttpConnection::flushAnswers() {
  while (!answers_.empty() && answers_.front()->acks == 0 && state_ == State::Open) {
    const std::shared_ptr<PendingAnswer> answer = answers_.front();
    answers_.pop_front();
    const bool last = answers_.empty();
    writeAnswer(answer->status, answer->extra_headers, answer->body,
                answer->close || (last && (close_after_answers_ || worker_.stopping())));
  }
  if (state_ != State::Open) {
    answers_.clear();
    return;
  }
  if (!answers_.empty()) {
    return;
  }
  // Carry on reading the client.
  armTimer();
  if (!reading_) {
    if (const int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&io_), onAlloc, onRead);
        rc < 0) {
      close(uv_strerror(rc));
      return;
    }
    reading_ = true;
  }
}

void HttpConnection::stopReading() {
  if (reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&io_));
    reading_ = false;
  }
}

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
    if (!shard->push(worker_.output(), worker_.receiptNs())) {
      request_overflow_ = true;
    }
  }
}

// --- answers -----------------------------------------------------------------------------------

void HttpConnection::onReject(int status, const std::string& extra_headers, bool close) {
  request_deadline_ms_ = 0;
  armTimer();
  if (state_ != State::Open) {
    return;
  }
  if (status != 401 && status != 404) {
    worker_.stats().http_rejected.add();
  }
  const std::string body = std::string(R"({"error":")") + httpStatusText(status) + "\"}";
  send(status, extra_headers, body, close);
}

void HttpConnection::send(int status, const std::string& extra_headers, const std::string& body,
                          bool close) {
  if (state_ != State::Open) {
    return;
  }
  if (!answers_.empty()) {
    // Behind answers still waiting for their sinks (a pipelined request): in order.
    auto answer = std::make_shared<PendingAnswer>();
    answer->status = status;
    answer->extra_headers = extra_headers;
    answer->body = body;
    answer->close = close;
    answers_.push_back(std::move(answer));
    return;
  }
  writeAnswer(status, extra_headers, body, close);
}

void HttpConnection::writeAnswer(int status, const std::string& extra_headers,
                                 const std::string& body, bool close) {
  if (state_ != State::Open) {
    return;
  }
  auto* write = new WriteRequest;
  write->self = this;
  write->close_after = close;
  write->data = "HTTP/1.1 " + std::to_string(status) + " " + httpStatusText(status) + "\r\n";
  if (status != 100) {
    write->data +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n" + extra_headers +
        // Said also when staying open: HTTP/1.0 clients (ApacheBench -k, some shippers) keep a
        // connection only when the answer says so, and otherwise wait for the close.
        (close ? "Connection: close\r\n" : "Connection: keep-alive\r\n") + "\r\n" + body;
  } else {
    write->data += "\r\n";
  }
  if (tls_) {
    // The answer holds counts only, but it is encrypted like everything on this connection.
    std::string plaintext = std::move(write->data);
    write->data.clear();
    if (!tls_->write(plaintext) || !tls_->takeOutput(write->data)) {
      delete write;
      this->close("TLS: " + tls_->error());
      return;
    }
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
    if (self->tls_ && self->tls_->handshakeDone() && !self->tls_->failed()) {
      self->tls_->close(); // close_notify before the FIN, so the client sees a clean end
      tls::sendPending(*self->tls_, reinterpret_cast<uv_stream_t*>(&self->io_));
    }
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
  linger_bytes_ = 0;
  restartTimer(kLingerMs);
}

void HttpConnection::shutdown() {
  if (!answers_.empty()) {
    // Answered once the sinks acknowledge or the deadline gives up on them, then closed.
    close_after_answers_ = true;
    return;
  }
  close("proxy stopping");
}

void HttpConnection::close(const std::string& why) {
  if (state_ == State::Closing) {
    return;
  }
  state_ = State::Closing;
  ack_token_.reset();
  answers_.clear();
  stopReading();
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
  if (tls_ && tls_->handshakeDone() && !tls_->failed()) {
    tls_->close(); // close_notify: the client can tell our close from a truncation
    tls::sendPending(*tls_, reinterpret_cast<uv_stream_t*>(&io_));
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
