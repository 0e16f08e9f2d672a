#pragma once

// One worker thread: its own uv loop, its share of every listener (a SO_REUSEPORT socket, or the
// shared unix socket), the client connections the kernel gives it, one LineFilter, and its own
// shard of every sink. Nothing on the data path is shared with other workers except the
// read-only rule sets and a few counters.
//
// Per connection: read (at most kReadChunk bytes at a time) -> LineFramer -> LineFilter with
// the listener's current rules -> each sink shard the listener feeds. When a shard's pressure
// flag goes up, every connection feeding it stops reading until it goes down again.
//
// Lifetime: init() on the starting thread (nothing runs yet), run() on the worker thread until
// stop (drain) or abort (deadline) have closed every handle; run() ends with uv_loop_close().
// Commands from other threads go through post().

#include <uv.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/proxy_config.h"
#include "filters/line_filter.h"
#include "proxy/alerts/pii_attempts.h"
#include "proxy/http_auth.h"
#include "proxy/line_framer.h"
#include "proxy/proxy_stats.h"
#include "proxy/rule_slot.h"
#include "proxy/sink.h"
#include "proxy/stdout_writer.h"
#include "proxy/tls/tls_context.h"
#include "proxy/tls/tls_session.h"
#include "rules/result.h"

namespace scrub::proxy {

// What all workers share; owned by the Server, outlives every worker.
struct WorkerShared {
  const config::ProxyConfig* config = nullptr;
  std::vector<RuleSlot*> rule_slots;     // one per listener, same order as config->listeners
  std::vector<tls::TlsSlot*> tls_slots;  // one per listener; null where the listener is not TLS
  std::vector<tls::TlsSlot*> sink_tls;   // one per sink; null where the sink is not TLS
  StdoutWriter* stdout_writer = nullptr; // set when some sink is stdout
  PiiAttemptTracker* pii_attempts = nullptr;
  unsigned workers = 1;
  std::atomic<uint64_t> next_connection_id{1};
  std::atomic<uint64_t> open_connections{0};
  // Called on the worker thread once it has closed everything.
  std::function<void(unsigned worker)> on_finished;
};

// The most one read takes from a socket: bounds what one read adds to a sink queue after its
// pressure flag went up.
inline constexpr size_t kReadChunk = 64 << 10;

class Worker;
class Connection;
class HttpConnection;

// One listener as seen by one worker.
struct ListenerRuntime {
  size_t index = 0;
  const config::ListenerConfig* config = nullptr;
  std::string url; // with the bound port
  RuleSlot* slot = nullptr;
  rules::RuleSetPtr rules;
  uint64_t generation = 0;
  filters::FilterCounters counters;
  std::vector<SinkShard*> shards;
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } server{};
  bool open = false;
  Worker* worker = nullptr;
  std::unique_ptr<AuthFailureLimiter> auth_failures; // http:// listeners only
  DetectorHitWatch detector_hits;
  std::vector<std::pair<int, uint64_t>> fired; // scratch for detector_hits
  tls::TlsSlot* tls = nullptr;                 // tls:// and https:// listeners only

  bool pressured() const;
  // Picks up reloaded rules; cheap when nothing changed.
  void refreshRules();
  // After a record was filtered: if detectors fired in it, note a PII attempt. `forwarded` is
  // what left (empty when it was dropped).
  void noteDetectorHits(std::string_view forwarded);
};

class Worker final : public ShardHost {
public:
  Worker(unsigned index, WorkerShared& shared);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // On the starting thread: the loop, the listener handles (taking `listener_fds`, one per
  // listener, already bound and listening) and the sink shards. On failure everything it made
  // is closed again and the loop is closed.
  Status init(const std::vector<int>& listener_fds, const std::vector<std::string>& urls);
  // The thread body.
  void run();
  // For a worker that init() set up but that will never run (another one failed): closes its
  // handles and its loop on the calling thread.
  void closeUnstarted();
  // Result of uv_loop_close() at the end of run(): 0 when every handle was closed.
  int loopCloseResult() const { return loop_close_result_; }

  // Commands, from any thread (posted to the loop).
  void requestStop();  // stop accepting, close clients, drain the sinks
  void requestAbort(); // the deadline passed: give up what the sinks still hold

  WorkerStats& stats() { return stats_; }
  SinkStats& sinkStats(size_t sink) { return *sink_stats_[sink]; }
  ListenerStats& listenerStats(size_t listener) { return *listener_stats_[listener]; }

  // --- ShardHost ---
  uv_loop_t* loop() override { return &loop_; }
  unsigned workerIndex() const override { return index_; }
  void onSinkPressureChanged() override;
  void onSinkClosed() override { maybeFinish(); }
  bool post(std::function<void()> fn) override;

  // --- for Connection ---
  filters::LineFilter& filter() { return filter_; }
  std::string& output() { return output_; }
  const config::ProxyConfig& config() const { return *shared_.config; }
  WorkerShared& shared() { return shared_; }
  void afterRead(ListenerRuntime& listener);
  // When the bytes being processed were received (uv_hrtime), for the sink latency histogram.
  void markReceipt() { receipt_ns_ = uv_hrtime(); }
  uint64_t receiptNs() const { return receipt_ns_; }
  void onConnectionClosed(Connection* connection);
  void onHttpConnectionClosed(HttpConnection* connection);
  bool stopping() const { return stopping_; }

private:
  static void onAsync(uv_async_t* async);
  static void onNewConnection(uv_stream_t* server, int status);
  static void onListenerClosed(uv_handle_t* handle);

  void stop();
  void abort();
  void closeListeners();
  void maybeFinish();
  void publishStats();

  unsigned index_;
  WorkerShared& shared_;
  uv_loop_t loop_{};
  bool loop_ready_ = false;
  uv_async_t async_{};
  bool async_open_ = false;
  std::mutex mailbox_mutex_;
  std::vector<std::function<void()>> mailbox_;
  bool mailbox_closed_ = false;

  filters::LineFilter filter_;
  std::string output_;
  std::vector<std::unique_ptr<ListenerRuntime>> listeners_;
  std::vector<std::unique_ptr<SinkStats>> sink_stats_;
  std::vector<std::unique_ptr<ListenerStats>> listener_stats_;
  uint64_t receipt_ns_ = 0;
  std::vector<std::unique_ptr<SinkShard>> shards_;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  std::unordered_map<HttpConnection*, std::unique_ptr<HttpConnection>> http_connections_;
  WorkerStats stats_;
  bool stopping_ = false;
  bool finished_ = false;
  int loop_close_result_ = 0;
  uint64_t rejected_reported_ms_ = 0;
  uint64_t rejected_since_report_ = 0;
};

// One client connection. Owned by its Worker; freed after both its handles have closed.
// On a tls:// listener the bytes read are ciphertext: they go through a TlsSession (which takes
// the listener's certificate of the moment the connection starts, and keeps it) and only the
// plaintext reaches the framer. The handshake is the only thing ever written back.
class Connection {
public:
  Connection(Worker& worker, ListenerRuntime& listener, uint64_t id);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Accepts from `server`; false (and the connection is closing) when that failed.
  bool accept(uv_stream_t* server);
  // Starts reading, or closes at once when over max_connections. Returns false if rejected.
  bool start();
  // Reads while the connection is open and none of its sinks is under pressure.
  void updateReading();
  // The proxy is stopping: what was read is processed, a partial line is counted as truncated.
  void shutdown();
  ListenerRuntime& listener() { return listener_; }

private:
  enum class State : uint8_t { Open, Closing };

  void close(const std::string& why);
  void finishFraming();
  std::string peerName() const;
  // tls:// only: decrypts what was fed into the framer and sends what the session has for the
  // client. False when the connection was closed (TLS failure or close_notify).
  bool pumpTls();

  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onIdle(uv_timer_t* timer);
  static void onClosed(uv_handle_t* handle);

  Worker& worker_;
  ListenerRuntime& listener_;
  uint64_t id_;
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } io_{};
  uv_timer_t idle_{};
  int open_handles_ = 0;
  State state_ = State::Open;
  bool reading_ = false;
  bool counted_ = false; // holds a place in open_connections
  uint64_t last_read_ms_ = 0;
  std::optional<LineFramer> framer_; // made at the first read: idle clients cost no buffer
  std::unique_ptr<tls::TlsSession> tls_;
  std::unique_ptr<char[]> ciphertext_; // tls:// only: what one read takes from the socket
  bool tls_established_ = false;
  LineFramer::Sink framer_sink_;
  uint64_t lines_ = 0;
  uint64_t forwarded_ = 0;
  std::array<uint64_t, filters::kDropReasonCount> dropped_{};
};

} // namespace scrub::proxy
