#include "proxy/sink.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "proxy/logging.h"
#include "proxy/tls/tls_write.h"
#include "proxy/wipe.h"

namespace scrub::proxy {
namespace {

constexpr uint64_t kReportEveryMs = 10000;

uint64_t seedFor(unsigned worker) {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device() ^ worker;
}

std::string sizeText(size_t bytes) {
  if (bytes >= (10u << 20)) {
    return std::to_string(bytes >> 20) + "MiB";
  }
  if (bytes >= (10u << 10)) {
    return std::to_string(bytes >> 10) + "KiB";
  }
  return std::to_string(bytes) + "B";
}

} // namespace

SinkQueueLimits shardLimits(const config::SinkConfig& config, unsigned workers) {
  SinkQueueLimits limits;
  limits.max_bytes = config.max_buffer_bytes / std::max(1u, workers);
  limits.high_bytes = std::min(limits.max_bytes * config.high_watermark_percent / 100,
                               limits.max_bytes > kReadHeadroom ? limits.max_bytes - kReadHeadroom
                                                                : limits.max_bytes / 2);
  limits.low_bytes =
      std::min(limits.max_bytes * config.low_watermark_percent / 100, limits.high_bytes / 2);
  limits.chunk_bytes = std::min<size_t>(64 << 10, config.batch_bytes);
  if (config.address.http) {
    // A batch is whole chunks: a chunk must not hold more than a request may carry.
    limits.chunk_lines =
        static_cast<uint32_t>(std::clamp<uint64_t>(config.http.batch_records, 1, UINT32_MAX));
  }
  return limits;
}

SinkShard::SinkShard(ShardHost& host, const config::SinkConfig& config, SinkStats& stats,
                     const SinkQueueLimits& limits)
    : host_(host), config_(config), stats_(stats), queue_(limits) {}

std::string SinkShard::label() const {
  return "sink '" + config_.name + "' [w" + std::to_string(host_.workerIndex()) + "]";
}

bool SinkShard::push(std::string_view line, uint64_t received_ns) noexcept {
  if (stopping_ || !queue_.push(line, received_ns)) {
    stats_.lines_overflow.add();
    ++overflow_since_report_;
    const uint64_t now = uv_now(host_.loop());
    if (overflow_reported_ms_ == 0 || now - overflow_reported_ms_ >= kReportEveryMs) {
      sinkLog().error("{}: queue full ({} held): {} lines dropped (overflow); the high watermark "
                      "should have stopped the readers first",
                      label(), sizeText(queue_.heldBytes()), overflow_since_report_);
      overflow_reported_ms_ = now;
      overflow_since_report_ = 0;
    }
    return false;
  }
  stats_.lines_queued.add();
  stats_.queue_bytes.set(queue_.heldBytes());
  if (queue_.updatePressure()) {
    reportPressure();
    host_.onSinkPressureChanged();
  }
  return true;
}

void SinkShard::countDelivered(const SinkBatch& batch, uint64_t refused) {
  stats_.lines_delivered.add(batch.lines - refused);
  stats_.bytes_delivered.add(batch.bytes);
  stats_.batches_delivered.add();
  const uint64_t now = uv_hrtime();
  for (const auto& chunk : batch.chunks) {
    if (chunk.received_ns != 0 && chunk.lines > 0) {
      stats_.latency.observe(now > chunk.received_ns ? now - chunk.received_ns : 0, chunk.lines);
    }
  }
}

void SinkShard::afterRelease() {
  stats_.queue_bytes.set(queue_.heldBytes());
  if (queue_.updatePressure()) {
    reportPressure();
    host_.onSinkPressureChanged();
  }
}

void SinkShard::reportPressure() {
  // Transitions can come many times a second under load: the first is logged, then a count at
  // most every kReportEveryMs.
  const uint64_t now = uv_now(host_.loop());
  ++pressure_since_report_;
  const bool due = pressure_reported_ms_ == 0 || now - pressure_reported_ms_ >= kReportEveryMs;
  if (queue_.pressured()) {
    if (due) {
      sinkLog().info("{}: backpressure on: {} held (high watermark {}); connections feeding it "
                     "stop reading ({} transitions since last report)",
                     label(), sizeText(queue_.heldBytes()), sizeText(queue_.limits().high_bytes),
                     pressure_since_report_);
      pressure_reported_ms_ = now;
      pressure_since_report_ = 0;
    } else {
      sinkLog().debug("{}: backpressure on", label());
    }
  } else {
    sinkLog().debug("{}: backpressure off: {} held (low watermark {})", label(),
                    sizeText(queue_.heldBytes()), sizeText(queue_.limits().low_bytes));
  }
}

// --- TCP ---------------------------------------------------------------------------------------

TcpSinkShard::TcpSinkShard(ShardHost& host, const config::SinkConfig& config, SinkStats& stats,
                           const SinkQueueLimits& limits, tls::TlsSlot* tls)
    : SinkShard(host, config, stats, limits),
      backoff_(config.reconnect_min, config.reconnect_max, seedFor(host.workerIndex())),
      risk_(kRiskWindowBytes, kRiskWindowMs), tls_slot_(tls) {}

TcpSinkShard::~TcpSinkShard() = default;

void TcpSinkShard::start() {
  uv_timer_init(host_.loop(), &timer_);
  timer_.data = this;
  timer_open_ = true;
  connect();
}

void TcpSinkShard::connect() {
  if (aborting_ || (stopping_ && queue_.empty())) {
    finish();
    return;
  }
  const std::string host = config_.address.host == "localhost" ? "127.0.0.1" : config_.address.host;
  sockaddr_storage addr{};
  if (uv_ip4_addr(host.c_str(), config_.address.port, reinterpret_cast<sockaddr_in*>(&addr)) == 0 ||
      uv_ip6_addr(host.c_str(), config_.address.port, reinterpret_cast<sockaddr_in6*>(&addr)) ==
          0) {
    connectTo(reinterpret_cast<const sockaddr*>(&addr));
    return;
  }
  state_ = State::Resolving;
  resolve_req_.data = this;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const std::string port = std::to_string(config_.address.port);
  const int rc =
      uv_getaddrinfo(host_.loop(), &resolve_req_, onResolved, host.c_str(), port.c_str(), &hints);
  if (rc < 0) {
    connectFailed(rc);
  }
}

void TcpSinkShard::onResolved(uv_getaddrinfo_t* req, int status, addrinfo* result) {
  auto* self = static_cast<TcpSinkShard*>(req->data);
  if (self->aborting_ || status == UV_EAI_CANCELED) {
    uv_freeaddrinfo(result);
    self->finish();
    return;
  }
  if (status < 0 || result == nullptr) {
    uv_freeaddrinfo(result);
    self->connectFailed(status < 0 ? status : UV_EAI_NONAME);
    return;
  }
  self->connectTo(result->ai_addr);
  uv_freeaddrinfo(result);
}

void TcpSinkShard::connectTo(const sockaddr* addr) {
  uv_tcp_init(host_.loop(), &tcp_);
  tcp_.data = this;
  tcp_open_ = true;
  state_ = State::Connecting;
  connect_req_.data = this;
  const int rc = uv_tcp_connect(&connect_req_, &tcp_, addr, onConnect);
  if (rc < 0) {
    connectFailed(rc);
    return;
  }
  uv_timer_start(&timer_, onTimer, static_cast<uint64_t>(config_.connect_timeout.count()), 0);
}

void TcpSinkShard::onConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<TcpSinkShard*>(req->data);
  if (status == UV_ECANCELED || self->state_ != State::Connecting) {
    return; // we closed the socket (timeout or stop); onSocketClosed carries on
  }
  if (status < 0) {
    uv_timer_stop(&self->timer_);
    self->connectFailed(status);
    return;
  }
  uv_tcp_nodelay(&self->tcp_, 1);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&self->tcp_), onAlloc, onRead);
  if (self->tls_slot_ == nullptr) {
    uv_timer_stop(&self->timer_);
    self->connected();
    return;
  }
  // The connect timer keeps running: connect_timeout covers the handshake too.
  self->state_ = State::Handshaking;
  self->tls_context_ = self->tls_slot_->get(); // a SIGHUP since the last connection shows here
  self->tls_ = std::make_unique<tls::TlsSession>(self->tls_context_);
  self->tls_->start();
  self->onTlsRead({});
}

void TcpSinkShard::connected() {
  state_ = State::Connected;
  stats_.connected.set(1);
  stats_.connects.add();
  const std::string how = tls_ ? " (" + tls_->description() +
                                     (tls_context_->verifyPeer() ? ", certificate verified for " +
                                                                       tls_context_->serverName()
                                                                 : ", certificate NOT verified") +
                                     ")"
                               : std::string();
  if (failed_attempts_ > 0) {
    sinkLog().info("{}: connected to {}{} after {} failed attempts; {} lines queued", label(),
                   config_.address.url(), how, failed_attempts_, queue_.queuedLines());
  } else {
    sinkLog().info("{}: connected to {}{}", label(), config_.address.url(), how);
  }
  failed_attempts_ = 0;
  backoff_.reset();
  kick();
}

void TcpSinkShard::onTlsRead(std::string_view ciphertext) {
  tls_->feed(ciphertext);
  // The sink has nothing to say that we use; whatever it sends is decrypted and discarded.
  tls::TlsSession::ReadStatus status = tls::TlsSession::ReadStatus::WantMore;
  while (tls_->handshakeDone()) {
    status = tls_->read(std::span<char>(read_scratch_, sizeof read_scratch_)).status;
    if (status != tls::TlsSession::ReadStatus::Data) {
      break;
    }
  }
  wipe(read_scratch_, sizeof read_scratch_);
  const int rc = tls::sendPending(*tls_, reinterpret_cast<uv_stream_t*>(&tcp_));
  if (state_ == State::Handshaking) {
    if (tls_->failed()) {
      uv_timer_stop(&timer_);
      connectFailed("TLS handshake failed: " + tls_->error());
    } else if (rc < 0) {
      uv_timer_stop(&timer_);
      connectFailed(rc);
    } else if (tls_->handshakeDone()) {
      uv_timer_stop(&timer_);
      connected();
    }
    return;
  }
  if (tls_->failed()) {
    connectionLost("TLS: " + tls_->error());
  } else if (status == tls::TlsSession::ReadStatus::Closed) {
    connectionLost("closed by the sink (close_notify)");
  } else if (rc < 0) {
    connectionLost(uv_strerror(rc));
  }
}

void TcpSinkShard::connectFailed(int status) {
  connectFailed(std::string(uv_strerror(status)));
}

void TcpSinkShard::connectFailed(const std::string& why) {
  ++failed_attempts_;
  stats_.connect_failures.add();
  // The first failure in a row is worth a warning; the retries that follow are not.
  if (failed_attempts_ == 1) {
    sinkLog().warn("{}: cannot connect to {}: {}; holding up to {} and retrying", label(),
                   config_.address.url(), why, sizeText(queue_.limits().max_bytes));
  } else {
    sinkLog().debug("{}: attempt {} to connect to {} failed: {}", label(), failed_attempts_,
                    config_.address.url(), why);
  }
  if (tcp_open_) {
    closeSocket();
    return;
  }
  // No socket to close (resolution failed): straight to the backoff.
  state_ = State::Closing;
  afterSocketClosed();
}

void TcpSinkShard::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<TcpSinkShard*>(timer->data);
  if (self->state_ == State::Connecting || self->state_ == State::Handshaking) {
    self->connectFailed(UV_ETIMEDOUT);
  } else if (self->state_ == State::Backoff) {
    self->connect();
  }
}

void TcpSinkShard::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<TcpSinkShard*>(handle->data);
  *buf = uv_buf_init(self->read_scratch_, sizeof self->read_scratch_);
}

void TcpSinkShard::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
  auto* self = static_cast<TcpSinkShard*>(stream->data);
  if (nread > 0 && self->tls_) {
    self->onTlsRead(std::string_view(self->read_scratch_, static_cast<size_t>(nread)));
    return;
  }
  if (nread >= 0) {
    return; // a sink that talks back: nothing we use
  }
  if (self->state_ == State::Handshaking) {
    uv_timer_stop(&self->timer_);
    self->connectFailed(nread == UV_EOF ? std::string("closed by the sink during the TLS handshake")
                                        : std::string(uv_strerror(static_cast<int>(nread))));
    return;
  }
  self->connectionLost(nread == UV_EOF ? std::string("closed by the sink")
                                       : std::string(uv_strerror(static_cast<int>(nread))));
}

void TcpSinkShard::kick() {
  if (state_ != State::Connected || write_) {
    return;
  }
  if (queue_.empty()) {
    if (stopping_) {
      closeSocket(); // drained: close; the kernel still sends what it holds
    }
    return;
  }
  write_ = std::make_unique<WriteRequest>();
  write_->batch = queue_.take(config_.batch_bytes);
  if (tls_) {
    // One write of the whole batch encrypted; the plaintext stays in the batch (and is released
    // with it) so the accounting below is the same as for plain TCP.
    bool ok = true;
    for (auto& chunk : write_->batch.chunks) {
      ok = ok && tls_->write(chunk.bytes);
    }
    if (!ok || !tls_->takeOutput(write_->ciphertext)) {
      auto failed = std::move(write_);
      queue_.putBack(std::move(failed->batch));
      connectionLost("TLS: " + tls_->error());
      return;
    }
    write_->bufs.push_back(
        uv_buf_init(write_->ciphertext.data(), static_cast<unsigned>(write_->ciphertext.size())));
  } else {
    write_->bufs.reserve(write_->batch.chunks.size());
    for (auto& chunk : write_->batch.chunks) {
      write_->bufs.push_back(
          uv_buf_init(chunk.bytes.data(), static_cast<unsigned>(chunk.bytes.size())));
    }
  }
  write_->req.data = this;
  const int rc = uv_write(&write_->req, reinterpret_cast<uv_stream_t*>(&tcp_), write_->bufs.data(),
                          static_cast<unsigned>(write_->bufs.size()), onWrite);
  if (rc < 0) {
    auto failed = std::move(write_);
    resent_pending_ += failed->batch.lines;
    stats_.lines_resent.add(failed->batch.lines);
    queue_.putBack(std::move(failed->batch));
    connectionLost(uv_strerror(rc));
  }
}

void TcpSinkShard::onWrite(uv_write_t* req, int status) {
  auto* self = static_cast<TcpSinkShard*>(req->data);
  std::unique_ptr<WriteRequest> done = std::move(self->write_);
  SinkBatch& batch = done->batch;
  if (status == 0) {
    self->countDelivered(batch);
    self->risk_.recordWrite(uv_now(self->host_.loop()), batch.bytes, batch.lines);
    self->queue_.release(std::move(batch));
    self->afterRelease();
    self->kick();
    return;
  }
  self->stats_.batches_failed.add();
  if (self->aborting_) {
    self->stats_.lines_undelivered.add(batch.lines);
    self->queue_.release(std::move(batch));
  } else {
    // Not known to have reached the sink: send it again on the next connection. Lines of it that
    // did arrive before the failure will then arrive twice.
    self->resent_pending_ += batch.lines;
    self->stats_.lines_resent.add(batch.lines);
    self->queue_.putBack(std::move(batch));
  }
  if (status != UV_ECANCELED) {
    self->connectionLost(uv_strerror(status));
  }
}

void TcpSinkShard::connectionLost(const std::string& why) {
  if (state_ != State::Connected) {
    return;
  }
  const uint64_t now = uv_now(host_.loop());
  const uint64_t at_risk = risk_.linesAtRisk(now);
  const size_t bytes_at_risk = risk_.bytesAtRisk(now);
  risk_.clear();
  stats_.lines_at_risk.add(at_risk);
  stats_.failures.add();
  sinkLog().warn("{}: connection to {} lost ({}); possibly_lost={} lines ({}) written in the "
                 "last {}s before the failure may not have been received; {} lines queued",
                 label(), config_.address.url(), why, at_risk, sizeText(bytes_at_risk),
                 kRiskWindowMs / 1000, queue_.queuedLines());
  closeSocket();
}

void TcpSinkShard::closeSocket() {
  if (!tcp_open_ || uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) {
    return;
  }
  state_ = State::Closing;
  stats_.connected.set(0);
  if (timer_open_) {
    uv_timer_stop(&timer_);
  }
  if (tls_ && tls_->handshakeDone() && !tls_->failed() && !write_) {
    // close_notify, so the sink can tell a clean close from a cut (uv_try_write: it is tiny).
    tls_->close();
    tls::sendPending(*tls_, reinterpret_cast<uv_stream_t*>(&tcp_));
  }
  // A write in flight gets its callback (UV_ECANCELED) before onSocketClosed.
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), onSocketClosed);
}

void TcpSinkShard::onSocketClosed(uv_handle_t* handle) {
  auto* self = static_cast<TcpSinkShard*>(handle->data);
  self->tcp_open_ = false;
  self->tls_.reset(); // the next connection gets a new session
  self->afterSocketClosed();
}

void TcpSinkShard::afterSocketClosed() {
  if (resent_pending_ > 0) {
    sinkLog().warn("{}: resent={} lines of the failed write will be sent again after "
                   "reconnecting",
                   label(), resent_pending_);
    resent_pending_ = 0;
  }
  if (state_ == State::Closed) {
    maybeClosed();
    return;
  }
  if (aborting_ || (stopping_ && queue_.empty())) {
    finish();
    return;
  }
  state_ = State::Backoff;
  const auto delay = backoff_.next();
  sinkLog().debug("{}: reconnecting in {}ms", label(), delay.count());
  uv_timer_start(&timer_, onTimer, static_cast<uint64_t>(delay.count()), 0);
}

void TcpSinkShard::stop(bool abort) {
  stopping_ = true;
  if (abort && !aborting_) {
    aborting_ = true;
    stats_.lines_undelivered.add(queue_.discardQueued());
  }
  switch (state_) {
  case State::Idle:
  case State::Backoff:
    if (aborting_ || queue_.empty()) {
      finish();
    }
    break;
  case State::Resolving:
    if (aborting_) {
      uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_req_));
    }
    break;
  case State::Connecting:
  case State::Handshaking:
    if (aborting_ || queue_.empty()) {
      closeSocket();
    }
    break;
  case State::Connected:
    if (aborting_) {
      closeSocket();
    } else {
      kick();
    }
    break;
  case State::Closing:
  case State::Closed:
    break;
  }
}

void TcpSinkShard::finish() {
  if (state_ == State::Closed) {
    return;
  }
  state_ = State::Closed;
  if (tcp_open_) {
    closeSocket();
    state_ = State::Closed;
  }
  if (timer_open_) {
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), onTimerClosed);
  } else {
    maybeClosed();
  }
}

void TcpSinkShard::onTimerClosed(uv_handle_t* handle) {
  auto* self = static_cast<TcpSinkShard*>(handle->data);
  self->timer_open_ = false;
  self->maybeClosed();
}

void TcpSinkShard::maybeClosed() {
  if (state_ == State::Closed && !timer_open_ && !tcp_open_ && !write_ && !closed_) {
    closed_ = true;
    host_.onSinkClosed();
  }
}

// --- stdout ------------------------------------------------------------------------------------

StdoutSinkShard::StdoutSinkShard(ShardHost& host, const config::SinkConfig& config,
                                 SinkStats& stats, const SinkQueueLimits& limits,
                                 StdoutWriter& writer)
    : SinkShard(host, config, stats, limits), writer_(writer) {
  stats_.connected.set(1);
}

void StdoutSinkShard::kick() {
  if (in_flight_ || closed_) {
    return;
  }
  if (queue_.empty()) {
    maybeClosed();
    return;
  }
  auto job = std::make_shared<StdoutJob>();
  job->batch = queue_.take(config_.batch_bytes);
  job->done = [this](std::shared_ptr<StdoutJob> finished) {
    // On the writer thread: hand the result back to our loop.
    host_.post([this, finished] { onWritten(finished); });
  };
  in_flight_ = true;
  writer_.submit(std::move(job));
}

void StdoutSinkShard::onWritten(std::shared_ptr<StdoutJob> job) {
  in_flight_ = false;
  const uint64_t lines = job->batch.lines;
  switch (job->outcome) {
  case StdoutJob::Outcome::Written:
    countDelivered(job->batch);
    break;
  case StdoutJob::Outcome::Aborted:
    stats_.lines_undelivered.add(lines);
    break;
  case StdoutJob::Outcome::Failed:
    stats_.batches_failed.add();
    stats_.connected.set(0);
    stats_.lines_lost.add(lines);
    break;
  }
  queue_.release(std::move(job->batch));
  afterRelease();
  kick();
}

void StdoutSinkShard::stop(bool abort) {
  stopping_ = true;
  if (abort && !aborting_) {
    aborting_ = true;
    stats_.lines_undelivered.add(queue_.discardQueued());
  }
  kick();
}

void StdoutSinkShard::maybeClosed() {
  if (stopping_ && !in_flight_ && queue_.empty() && !closed_) {
    closed_ = true;
    host_.onSinkClosed();
  }
}

} // namespace scrub::proxy
