#include "proxy/worker.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "proxy/http_connection.h"
#include "proxy/http_sink/http_sink_shard.h"
#include "proxy/listen_socket.h"
#include "proxy/logging.h"
#include "proxy/tls/tls_write.h"
#include "proxy/wipe.h"

namespace scrub::proxy {
namespace {

constexpr uint64_t kReportEveryMs = 10000;
// What one read of a tls:// connection takes: a little more than one TLS record.
constexpr size_t kTlsReadChunk = 17 << 10;

filters::FilterLimits filterLimits(const config::ProxyConfig& config) {
  filters::FilterLimits limits;
  limits.max_line_bytes = config.limits.max_line_bytes;
  limits.max_scan_bytes = config.limits.max_scan_bytes_per_line;
  limits.max_decoded_bytes = config.limits.max_decoded_bytes_per_line;
  return limits;
}

std::string dropSummary(const std::array<uint64_t, filters::kDropReasonCount>& dropped) {
  uint64_t total = 0;
  std::string reasons;
  for (size_t i = 1; i < dropped.size(); ++i) {
    if (dropped[i] > 0) {
      total += dropped[i];
      reasons += (reasons.empty() ? "" : " ") + std::string(filters::kDropReasonNames[i]) + "=" +
                 std::to_string(dropped[i]);
    }
  }
  return "dropped=" + std::to_string(total) + (reasons.empty() ? "" : " (" + reasons + ")");
}

} // namespace

// --- ListenerRuntime ---------------------------------------------------------------------------

bool ListenerRuntime::pressured() const {
  return std::any_of(shards.begin(), shards.end(),
                     [](const SinkShard* shard) { return shard->pressured(); });
}

void ListenerRuntime::refreshRules() {
  const uint64_t current = slot->generation();
  if (current != generation) {
    rules = slot->get();
    generation = current;
    counters.sizeFor(*rules);
    detector_hits.reset();
  }
}

void ListenerRuntime::noteDetectorHits(std::string_view forwarded) {
  PiiAttemptTracker* tracker = worker->shared().pii_attempts;
  if (tracker != nullptr && detector_hits.changed(counters, fired)) {
    tracker->note(index, *rules, fired, forwarded);
  }
}

// --- Worker ------------------------------------------------------------------------------------

Worker::Worker(unsigned index, WorkerShared& shared)
    : index_(index), shared_(shared), filter_(filterLimits(*shared.config)) {}

Worker::~Worker() {
  wipe(output_);
}

Status Worker::init(const std::vector<int>& listener_fds, const std::vector<std::string>& urls) {
  const config::ProxyConfig& config = *shared_.config;
  if (const int rc = uv_loop_init(&loop_); rc < 0) {
    for (const int fd : listener_fds) {
      ::close(fd);
    }
    return Error{std::string("event loop: ") + uv_strerror(rc)};
  }
  loop_ready_ = true;
  uv_async_init(&loop_, &async_, onAsync);
  async_.data = this;
  async_open_ = true;

  for (const auto& sink : config.sinks) {
    sink_stats_.push_back(std::make_unique<SinkStats>());
    const SinkQueueLimits limits = shardLimits(sink, shared_.workers);
    if (sink.address.kind == config::Address::Kind::Stdout) {
      shards_.push_back(std::make_unique<StdoutSinkShard>(*this, sink, *sink_stats_.back(), limits,
                                                          *shared_.stdout_writer));
    } else if (sink.address.http) {
      shards_.push_back(std::make_unique<HttpSinkShard>(*this, sink, *sink_stats_.back(), limits));
    } else {
      const size_t s = shards_.size();
      shards_.push_back(std::make_unique<TcpSinkShard>(
          *this, sink, *sink_stats_.back(), limits,
          s < shared_.sink_tls.size() ? shared_.sink_tls[s] : nullptr));
    }
  }

  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const auto& listener_config = config.listeners[i];
    auto listener = std::make_unique<ListenerRuntime>();
    listener_stats_.push_back(std::make_unique<ListenerStats>());
    listener->index = i;
    listener->config = &listener_config;
    listener->url = urls[i];
    listener->slot = shared_.rule_slots[i];
    listener->generation = listener->slot->generation();
    listener->rules = listener->slot->get();
    listener->counters.sizeFor(*listener->rules);
    listener->worker = this;
    if (i < shared_.tls_slots.size()) {
      listener->tls = shared_.tls_slots[i];
    }
    if (listener_config.address.http) {
      listener->auth_failures = std::make_unique<AuthFailureLimiter>(
          listener_config.http.max_auth_failures,
          static_cast<uint64_t>(listener_config.http.auth_failure_window.count()));
    }
    for (const auto& name : listener_config.sinks) {
      for (size_t s = 0; s < config.sinks.size(); ++s) {
        if (config.sinks[s].name == name) {
          listener->shards.push_back(shards_[s].get());
        }
      }
    }
    int rc = 0;
    if (listener_config.address.kind == config::Address::Kind::Unix) {
      uv_pipe_init(&loop_, &listener->server.pipe, 0);
      listener->open = true;
      rc = uv_pipe_open(&listener->server.pipe, listener_fds[i]);
    } else {
      uv_tcp_init(&loop_, &listener->server.tcp);
      listener->open = true;
      rc = uv_tcp_open(&listener->server.tcp, listener_fds[i]);
    }
    listener->server.handle.data = listener.get();
    if (rc < 0) {
      ::close(listener_fds[i]);
    } else {
      rc = uv_listen(&listener->server.stream, kListenBacklog, onNewConnection);
    }
    listeners_.push_back(std::move(listener));
    if (rc < 0) {
      for (size_t j = i + 1; j < listener_fds.size(); ++j) {
        ::close(listener_fds[j]);
      }
      closeUnstarted();
      return Error{"cannot listen on " + urls[i] + ": " + uv_strerror(rc)};
    }
  }
  return Ok{};
}

void Worker::closeUnstarted() {
  for (auto& listener : listeners_) {
    if (listener->open) {
      uv_close(&listener->server.handle, nullptr);
      listener->open = false;
    }
  }
  if (async_open_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
    async_open_ = false;
  }
  {
    std::lock_guard lock(mailbox_mutex_);
    mailbox_closed_ = true;
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  loop_close_result_ = uv_loop_close(&loop_);
  loop_ready_ = false;
}

void Worker::run() {
  for (auto& shard : shards_) {
    shard->start();
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  wipe(output_);
  loop_close_result_ = uv_loop_close(&loop_);
  loop_ready_ = false;
  if (loop_close_result_ != 0) {
    proxyLog().error("worker {}: event loop closed with handles still open ({})", index_,
                     uv_strerror(loop_close_result_));
  }
}

bool Worker::post(std::function<void()> fn) {
  std::lock_guard lock(mailbox_mutex_);
  if (mailbox_closed_) {
    return false;
  }
  mailbox_.push_back(std::move(fn));
  // Under the lock: the loop cannot close the async handle between our check and the send.
  uv_async_send(&async_);
  return true;
}

void Worker::requestStop() {
  post([this] { stop(); });
}

void Worker::requestAbort() {
  post([this] { abort(); });
}

void Worker::onAsync(uv_async_t* async) {
  auto* self = static_cast<Worker*>(async->data);
  std::vector<std::function<void()>> work;
  {
    std::lock_guard lock(self->mailbox_mutex_);
    work.swap(self->mailbox_);
  }
  for (auto& fn : work) {
    fn();
  }
}

void Worker::onNewConnection(uv_stream_t* server, int status) {
  auto* listener = static_cast<ListenerRuntime*>(server->data);
  Worker* self = listener->worker;
  if (status < 0) {
    connLog().warn("accept on {} failed: {}", listener->url, uv_strerror(status));
    return;
  }
  if (self->stopping_) {
    return;
  }
  const uint64_t id = self->shared_.next_connection_id.fetch_add(1, std::memory_order_relaxed);
  bool started = false;
  if (listener->config->address.http) {
    auto owned = std::make_unique<HttpConnection>(*self, *listener, id);
    HttpConnection* connection = owned.get();
    self->http_connections_.emplace(connection, std::move(owned));
    if (!connection->accept(server)) {
      return;
    }
    started = connection->start();
  } else {
    auto owned = std::make_unique<Connection>(*self, *listener, id);
    Connection* connection = owned.get();
    self->connections_.emplace(connection, std::move(owned));
    if (!connection->accept(server)) {
      return;
    }
    started = connection->start();
  }
  if (started) {
    self->stats_.connections_accepted.add();
    return;
  }
  self->stats_.connections_rejected.add();
  ++self->rejected_since_report_;
  const uint64_t now = uv_now(&self->loop_);
  if (self->rejected_reported_ms_ == 0 || now - self->rejected_reported_ms_ >= kReportEveryMs) {
    connLog().warn("{}: max_connections ({}) reached: {} connections refused [w{}]", listener->url,
                   self->config().limits.max_connections, self->rejected_since_report_,
                   self->index_);
    self->rejected_reported_ms_ = now;
    self->rejected_since_report_ = 0;
  }
}

void Worker::onSinkPressureChanged() {
  for (auto& [raw, connection] : connections_) {
    connection->updateReading();
  }
}

void Worker::afterRead(ListenerRuntime& listener) {
  for (SinkShard* shard : listener.shards) {
    shard->flush();
  }
  publishStats();
}

void Worker::publishStats() {
  uint64_t lines_in = 0;
  uint64_t lines_out = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::array<uint64_t, filters::kDropReasonCount> dropped{};
  for (const auto& listener : listeners_) {
    const auto& c = listener->counters;
    ListenerStats& published = *listener_stats_[listener->index];
    published.lines_in.set(c.lines_in);
    published.lines_out.set(c.lines_out);
    published.bytes_in.set(c.bytes_in);
    published.bytes_out.set(c.bytes_out);
    for (size_t i = 0; i < c.dropped.size(); ++i) {
      published.dropped[i].set(c.dropped[i]);
    }
    published.fields_unmatched.set(c.fields_unmatched);
    published.fields_key_rejected.set(c.fields_key_rejected);
    {
      // Uncontended but for a metrics scrape; the vectors keep their size between reloads, so
      // this copies without allocating.
      std::lock_guard lock(published.mutex);
      if (published.rules != listener->rules) {
        published.rules = listener->rules;
      }
      published.keep = c.keep;
      published.detectors = c.detectors;
    }
    lines_in += c.lines_in;
    lines_out += c.lines_out;
    bytes_in += c.bytes_in;
    bytes_out += c.bytes_out;
    for (size_t i = 0; i < dropped.size(); ++i) {
      dropped[i] += c.dropped[i];
    }
  }
  stats_.lines_in.set(lines_in);
  stats_.lines_out.set(lines_out);
  stats_.bytes_in.set(bytes_in);
  stats_.bytes_out.set(bytes_out);
  for (size_t i = 0; i < dropped.size(); ++i) {
    stats_.dropped[i].set(dropped[i]);
  }
}

void Worker::onConnectionClosed(Connection* connection) {
  connections_.erase(connection);
  maybeFinish();
}

void Worker::onHttpConnectionClosed(HttpConnection* connection) {
  http_connections_.erase(connection);
  maybeFinish();
}

void Worker::closeListeners() {
  for (auto& listener : listeners_) {
    if (listener->open && !uv_is_closing(&listener->server.handle)) {
      uv_close(&listener->server.handle, onListenerClosed);
    }
  }
}

void Worker::onListenerClosed(uv_handle_t* handle) {
  auto* listener = static_cast<ListenerRuntime*>(handle->data);
  listener->open = false;
  listener->worker->maybeFinish();
}

void Worker::stop() {
  if (stopping_) {
    return;
  }
  stopping_ = true;
  closeListeners();
  for (auto& [raw, connection] : connections_) {
    connection->shutdown();
  }
  for (auto& [raw, connection] : http_connections_) {
    connection->shutdown();
  }
  for (auto& listener : listeners_) {
    afterRead(*listener);
  }
  for (auto& shard : shards_) {
    shard->stop(/*abort=*/false);
  }
  maybeFinish();
}

void Worker::abort() {
  stop();
  for (auto& shard : shards_) {
    shard->stop(/*abort=*/true);
  }
  maybeFinish();
}

void Worker::maybeFinish() {
  if (!stopping_ || finished_ || !connections_.empty() || !http_connections_.empty()) {
    return;
  }
  for (const auto& listener : listeners_) {
    if (listener->open) {
      return;
    }
  }
  for (const auto& shard : shards_) {
    if (!shard->closed()) {
      return;
    }
  }
  finished_ = true;
  publishStats();
  {
    std::lock_guard lock(mailbox_mutex_);
    mailbox_closed_ = true;
    mailbox_.clear();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  async_open_ = false;
  if (shared_.on_finished) {
    shared_.on_finished(index_);
  }
}

// --- Connection --------------------------------------------------------------------------------

Connection::Connection(Worker& worker, ListenerRuntime& listener, uint64_t id)
    : worker_(worker), listener_(listener), id_(id) {
  framer_sink_.on_line = [this](std::string_view text, size_t capacity) {
    ++lines_;
    const auto reason = worker_.filter().filter(text, capacity, *listener_.rules, worker_.output(),
                                                listener_.counters);
    listener_.noteDetectorHits(worker_.output());
    if (reason != filters::DropReason::None) {
      ++dropped_[static_cast<size_t>(reason)];
      return;
    }
    ++forwarded_;
    for (SinkShard* shard : listener_.shards) {
      shard->push(worker_.output(), worker_.receiptNs());
    }
  };
  auto count_drop = [this](filters::DropReason reason) {
    ++lines_;
    ++dropped_[static_cast<size_t>(reason)];
    ++listener_.counters.lines_in;
    ++listener_.counters.dropped[static_cast<size_t>(reason)];
  };
  framer_sink_.on_oversized = [count_drop] { count_drop(filters::DropReason::TooLong); };
  framer_sink_.on_truncated = [count_drop] { count_drop(filters::DropReason::Truncated); };
}

Connection::~Connection() = default; // the framer wipes its buffer

bool Connection::accept(uv_stream_t* server) {
  uv_loop_t* loop = worker_.loop();
  if (listener_.config->address.kind == config::Address::Kind::Unix) {
    uv_pipe_init(loop, &io_.pipe, 0);
  } else {
    uv_tcp_init(loop, &io_.tcp);
  }
  io_.handle.data = this;
  ++open_handles_;
  uv_timer_init(loop, &idle_);
  idle_.data = this;
  ++open_handles_;
  if (const int rc = uv_accept(server, &io_.stream); rc < 0) {
    connLog().warn("accept on {} failed: {}", listener_.url, uv_strerror(rc));
    close("accept failed");
    return false;
  }
  return true;
}

bool Connection::start() {
  const auto& config = worker_.config();
  if (worker_.shared().open_connections.fetch_add(1) >= config.limits.max_connections) {
    worker_.shared().open_connections.fetch_sub(1);
    close("over max_connections");
    return false;
  }
  counted_ = true;
  connLog().info("connection {} from {} on {} [w{}]", id_, peerName(), listener_.url,
                 worker_.workerIndex());
  if (listener_.tls != nullptr) {
    tls_ = std::make_unique<tls::TlsSession>(listener_.tls->get());
  }
  last_read_ms_ = uv_now(worker_.loop());
  if (config.limits.idle_timeout.count() > 0) {
    uv_timer_start(&idle_, onIdle, static_cast<uint64_t>(config.limits.idle_timeout.count()), 0);
  }
  updateReading();
  return true;
}

std::string Connection::peerName() const {
  if (listener_.config->address.kind == config::Address::Kind::Unix) {
    ucred cred{};
    socklen_t length = sizeof cred;
    uv_os_fd_t fd = -1;
    if (uv_fileno(&io_.handle, &fd) == 0 &&
        ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) == 0) {
      return "pid " + std::to_string(cred.pid) + " uid " + std::to_string(cred.uid);
    }
    return "unix peer";
  }
  sockaddr_storage addr{};
  int length = sizeof addr;
  if (uv_tcp_getpeername(&io_.tcp, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    return "unknown peer";
  }
  char host[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    uv_ip6_name(v6, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(v6->sin6_port));
  }
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr);
  uv_ip4_name(v4, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(v4->sin_port));
}

void Connection::updateReading() {
  const bool want = state_ == State::Open && !worker_.stopping() && !listener_.pressured();
  if (want && !reading_) {
    if (const int rc = uv_read_start(&io_.stream, onAlloc, onRead); rc < 0) {
      close(uv_strerror(rc));
      return;
    }
    reading_ = true;
    last_read_ms_ = uv_now(worker_.loop());
  } else if (!want && reading_) {
    uv_read_stop(&io_.stream);
    reading_ = false;
  }
}

void Connection::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(handle->data);
  if (self->tls_) {
    if (!self->ciphertext_) {
      self->ciphertext_ = std::make_unique<char[]>(kTlsReadChunk);
    }
    *buf = uv_buf_init(self->ciphertext_.get(), static_cast<unsigned>(kTlsReadChunk));
    return;
  }
  if (!self->framer_) {
    self->framer_.emplace(self->worker_.config().limits.max_line_bytes, kReadChunk);
  }
  const std::span<char> space = self->framer_->writable();
  *buf = uv_buf_init(space.data(), static_cast<unsigned>(std::min(space.size(), kReadChunk)));
}

void Connection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(stream->data);
  if (nread > 0 && self->tls_) {
    self->last_read_ms_ = uv_now(self->worker_.loop());
    self->listener_.refreshRules();
    self->tls_->feed(std::string_view(buf->base, static_cast<size_t>(nread)));
    self->pumpTls();
    return;
  }
  if (nread > 0) {
    self->worker_.markReceipt();
    self->last_read_ms_ = uv_now(self->worker_.loop());
    self->listener_.refreshRules();
    self->framer_->commit(static_cast<size_t>(nread), self->framer_sink_);
    self->worker_.afterRead(self->listener_);
    return;
  }
  if (nread == 0) {
    return;
  }
  self->finishFraming();
  self->worker_.afterRead(self->listener_);
  self->close(nread == UV_EOF ? std::string("closed by the client")
                              : std::string(uv_strerror(static_cast<int>(nread))));
}

bool Connection::pumpTls() {
  tls::TlsSession::ReadStatus status = tls::TlsSession::ReadStatus::WantMore;
  if (tls_->handshakeDone()) {
    if (!framer_) {
      framer_.emplace(worker_.config().limits.max_line_bytes, kReadChunk);
    }
    // Plaintext goes straight into the framer's buffer (which wipes it), never elsewhere.
    for (;;) {
      const std::span<char> space = framer_->writable();
      const auto result = tls_->read(space.first(std::min(space.size(), kReadChunk)));
      status = result.status;
      if (status != tls::TlsSession::ReadStatus::Data) {
        break;
      }
      framer_->commit(result.n, framer_sink_);
    }
    worker_.afterRead(listener_);
  }
  // Handshake messages, or the alert that tells the client why it failed.
  const tls::PumpEnd end = tls::finishRound(*tls_, &io_.stream, status, tls_established_, id_);
  using Kind = tls::PumpEnd::Kind;
  if (end.kind == Kind::Failed && end.handshake) {
    worker_.listenerStats(listener_.index).tls_handshake_failures.add();
  }
  if (end.kind == Kind::Failed || end.kind == Kind::PeerClosed) {
    finishFraming();
    worker_.afterRead(listener_);
  }
  if (end.kind != Kind::Open) {
    close(end.why);
    return false;
  }
  return true;
}

void Connection::finishFraming() {
  if (framer_) {
    framer_->finish(framer_sink_);
  }
}

void Connection::onIdle(uv_timer_t* timer) {
  auto* self = static_cast<Connection*>(timer->data);
  if (self->state_ != State::Open) {
    return;
  }
  const auto idle = static_cast<uint64_t>(self->worker_.config().limits.idle_timeout.count());
  if (!self->reading_) {
    // Paused by backpressure: the client is waiting for us, not idle.
    uv_timer_start(&self->idle_, onIdle, idle, 0);
    return;
  }
  const uint64_t elapsed = uv_now(self->worker_.loop()) - self->last_read_ms_;
  if (elapsed >= idle) {
    self->finishFraming();
    self->worker_.afterRead(self->listener_);
    self->close("idle for " + std::to_string(idle / 1000) + "s");
    return;
  }
  uv_timer_start(&self->idle_, onIdle, idle - elapsed, 0);
}

void Connection::shutdown() {
  if (state_ != State::Open) {
    return;
  }
  finishFraming();
  close("proxy stopping");
}

void Connection::close(const std::string& why) {
  if (state_ == State::Closing) {
    return;
  }
  state_ = State::Closing;
  if (reading_) {
    uv_read_stop(&io_.stream);
    reading_ = false;
  }
  if (counted_) {
    worker_.shared().open_connections.fetch_sub(1);
    connLog().info("connection {} closed ({}): lines={} forwarded={} {}", id_, why, lines_,
                   forwarded_, dropSummary(dropped_));
  }
  if (tls_ && tls_->handshakeDone() && !tls_->failed()) {
    tls_->close(); // close_notify: the client can tell our close from a truncation
    tls::sendPending(*tls_, &io_.stream);
  }
  uv_close(&io_.handle, onClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), onClosed);
}

void Connection::onClosed(uv_handle_t* handle) {
  auto* self = static_cast<Connection*>(handle->data);
  if (--self->open_handles_ == 0) {
    self->worker_.onConnectionClosed(self);
  }
}

} // namespace scrub::proxy
