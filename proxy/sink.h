#pragma once

// One sink as seen by one worker (a "shard"): its bounded queue, and the transport that empties
// it, all on the worker's loop thread. Every worker owns its own shard of every sink, so the data
// path takes no lock: a TCP sink gets one connection per worker; stdout is shared through the
// StdoutWriter, which writes whole batches.
//
// Delivery (TCP): everything accepted is written while the sink is reachable; while it is not,
// the queue holds lines (up to its share of max_buffer_bytes) and the pressure flag makes the
// worker stop reading from the connections that feed it. A write that fails is queued again for
// the next connection (its lines may then arrive twice; counted as resent). Lines whose write
// completed shortly before a connection failed may have died in socket buffers or in the
// receiver: they are counted as at risk and logged, never dropped silently.
//
// Handle lifetime: each uv handle has this object as its owner (`handle.data = this`); the
// object may be destroyed only after host.onSinkClosed() was called.

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/proxy_config.h"
#include "proxy/backoff.h"
#include "proxy/proxy_stats.h"
#include "proxy/sink_queue.h"
#include "proxy/stdout_writer.h"
#include "proxy/tls/tls_context.h"
#include "proxy/tls/tls_session.h"

namespace scrub::proxy {

// What a shard needs from the worker that owns it. All calls on the worker's loop thread, except
// post(), which any thread may call.
class ShardHost {
public:
  virtual ~ShardHost() = default;
  virtual uv_loop_t* loop() = 0;
  virtual unsigned workerIndex() const = 0;
  // A shard's pressure flag changed: re-decide which connections read.
  virtual void onSinkPressureChanged() = 0;
  // A stopping shard has closed everything it had.
  virtual void onSinkClosed() = 0;
  // Runs `fn` on the loop thread soon. False if the loop no longer takes work.
  virtual bool post(std::function<void()> fn) = 0;
};

// Splits a sink's max_buffer_bytes and watermarks evenly among `workers` shards. The high
// watermark is kept at least kReadHeadroom below the maximum, so the lines of a read that is
// already being processed when the flag goes up still fit.
SinkQueueLimits shardLimits(const config::SinkConfig& config, unsigned workers);
inline constexpr size_t kReadHeadroom = 256 << 10;

class SinkShard {
public:
  SinkShard(ShardHost& host, const config::SinkConfig& config, SinkStats& stats,
            const SinkQueueLimits& limits);
  virtual ~SinkShard() = default;
  SinkShard(const SinkShard&) = delete;
  SinkShard& operator=(const SinkShard&) = delete;

  const config::SinkConfig& config() const { return config_; }

  // The data path: queues `line` (a '\n' is added). False when the queue is full; the line is
  // counted as overflow. Writing starts at the next flush(). `received_ns` (uv_hrtime of the
  // read that brought the line, 0 if unknown) feeds the latency histogram.
  bool push(std::string_view line, uint64_t received_ns = 0) noexcept;
  // Starts a write of what is queued, if the transport can take one now.
  void flush() { kick(); }
  bool pressured() const { return queue_.pressured(); }

  virtual void start() = 0;
  // Stop: with `abort` false, deliver what is queued and then close; with `abort` true, give up
  // what is held now (counted as undelivered) and close at once. May be called twice (drain, then
  // abort). host.onSinkClosed() follows once everything is closed.
  virtual void stop(bool abort) = 0;
  bool closed() const { return closed_; }

protected:
  virtual void kick() = 0;
  // Re-evaluates the pressure flag after bytes left the queue.
  void afterRelease();
  // A batch reached the sink: delivery counters and the receipt-to-write latency of its lines.
  // `refused`: lines of the batch the sink answered but would not store (counted elsewhere).
  void countDelivered(const SinkBatch& batch, uint64_t refused = 0);
  std::string label() const; // "sink 'name' [w1]" for the log

  ShardHost& host_;
  const config::SinkConfig& config_;
  SinkStats& stats_;
  SinkQueue queue_;
  bool stopping_ = false;
  bool aborting_ = false;
  bool closed_ = false;

private:
  uint64_t overflow_reported_ms_ = 0;
  uint64_t overflow_since_report_ = 0;
  uint64_t pressure_reported_ms_ = 0;
  uint64_t pressure_since_report_ = 0;
  void reportPressure();
};

// A tls:// sink is this same shard with a client TlsContext, taken from its TlsSlot at each
// connect (so a SIGHUP reload applies from the next connection): after the TCP connect comes the
// handshake (within connect_timeout), which verifies the sink's certificate and name; a failed
// handshake is a failed connect (backoff, logged with the reason). Batches are encrypted as a
// whole into one write; delivery accounting is the same as for plain TCP.
class TcpSinkShard final : public SinkShard {
public:
  TcpSinkShard(ShardHost& host, const config::SinkConfig& config, SinkStats& stats,
               const SinkQueueLimits& limits, tls::TlsSlot* tls = nullptr);
  ~TcpSinkShard() override;

  void start() override;
  void stop(bool abort) override;

  // The estimate of what a connection failure may lose (see DeliveryRisk).
  static constexpr size_t kRiskWindowBytes = 16 << 20;
  static constexpr uint64_t kRiskWindowMs = 10000;

private:
  enum class State : uint8_t {
    Idle,
    Resolving,
    Connecting,
    Handshaking, // tls:// only: TCP connected, TLS handshake under way
    Connected,
    Closing,
    Backoff,
    Closed
  };
  struct WriteRequest {
    uv_write_t req;
    SinkBatch batch;
    std::vector<uv_buf_t> bufs;
    std::string ciphertext; // tls:// only: the batch encrypted (bufs points here)
  };

  void kick() override;
  void connect();
  void connectTo(const sockaddr* addr);
  void connectFailed(int status);
  void connectFailed(const std::string& why);
  void connected();
  // tls:// only: feeds what the sink sent, sends what the session has for it.
  void onTlsRead(std::string_view ciphertext);
  void connectionLost(const std::string& why);
  void closeSocket();
  void afterSocketClosed();
  void finish();
  void maybeClosed();

  static void onResolved(uv_getaddrinfo_t* req, int status, addrinfo* result);
  static void onConnect(uv_connect_t* req, int status);
  static void onTimer(uv_timer_t* timer);
  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onWrite(uv_write_t* req, int status);
  static void onSocketClosed(uv_handle_t* handle);
  static void onTimerClosed(uv_handle_t* handle);

  State state_ = State::Idle;
  uv_tcp_t tcp_{};
  uv_timer_t timer_{}; // connect timeout, then backoff
  uv_connect_t connect_req_{};
  uv_getaddrinfo_t resolve_req_{};
  bool timer_open_ = false;
  bool tcp_open_ = false;
  std::unique_ptr<WriteRequest> write_;
  Backoff backoff_;
  DeliveryRisk risk_;
  unsigned failed_attempts_ = 0;         // since the last successful connect
  uint64_t resent_pending_ = 0;          // lines put back by the failed write, for the log
  tls::TlsSlot* tls_slot_;               // tls:// only: the current client context
  tls::TlsContextPtr tls_context_;       // the one this connection was opened with
  std::unique_ptr<tls::TlsSession> tls_; // per connection
  char read_scratch_[4096];              // the sink says nothing we need; its bytes are discarded
};

class StdoutSinkShard final : public SinkShard {
public:
  StdoutSinkShard(ShardHost& host, const config::SinkConfig& config, SinkStats& stats,
                  const SinkQueueLimits& limits, StdoutWriter& writer);

  void start() override {}
  void stop(bool abort) override;

private:
  void kick() override;
  void onWritten(std::shared_ptr<StdoutJob> job);
  void maybeClosed();

  StdoutWriter& writer_;
  bool in_flight_ = false;
};

} // namespace scrub::proxy
