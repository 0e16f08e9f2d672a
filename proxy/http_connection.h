#pragma once

// One HTTP/1.1 client connection on an http:// listener. Owned by its Worker like a TCP
// Connection, freed after both its handles (socket, timer) have closed.
//
// Per request: HttpRequestParser (http_parser -> (gzip, bounded) -> the body held in memory
// (bounded by max_body_bytes / max_decompressed_bytes), see http_request.h) -> split into records
// (NDJSON lines, or one JSON object, or the elements of a JSON array) -> the worker's LineFilter
// with the listener's current rules -> every sink shard of the listener, exactly as TCP lines. The
// answer is sent once the records are in the sink queues: 200 with counts only. Errors never echo
// payload. When a sink of the listener is above its high watermark the request is answered 503 with
// Retry-After and nothing is queued (backpressure over HTTP).
//
// On an https:// listener the socket carries TLS: what is read is decrypted by a TlsSession
// (holding the listener's certificate of the moment the connection started) into the same read
// buffer, and every answer is encrypted before it is written.
//
// After an error answer that closes the connection, the rest of what the client sends is read
// and discarded for a short time (lingering close), so the client sees the answer instead of a
// reset.

#include <uv.h>

#include <array>
#include <deque>
#include <memory>
#include <string>

#include "filters/drop_reason.h"
#include "proxy/http_request.h"
#include "proxy/http_sink/http_sink_shard.h"
#include "proxy/tls/tls_session.h"

namespace scrub::proxy {

class Worker;
struct ListenerRuntime;

class HttpConnection : private HttpRequestHandler {
public:
  HttpConnection(Worker& worker, ListenerRuntime& listener, uint64_t id);
  ~HttpConnection() override;
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Accepts from `server`; false (and the connection is closing) when that failed.
  bool accept(uv_stream_t* server);
  // Starts reading, or closes at once when over max_connections. Returns false if rejected.
  bool start();
  // The proxy is stopping: a request not yet complete is abandoned (nothing of it was queued).
  void shutdown();

private:
  enum class State : uint8_t { Open, Lingering, Closing };
  struct WriteRequest {
    uv_write_t req{};
    std::string data;
    HttpConnection* self = nullptr;
    bool close_after = false;
  };

  // --- HttpRequestHandler ---
  void onRequestBegin() override;
  AuthAnswer authorize(std::string_view authorization, std::string_view api_key) override;
  void onContinue() override;
  // An error answer (counted unless 401/404); `close` ends the connection after it (lingering).
  void onReject(int status, const std::string& extra_headers, bool close) override;
  void onRequest(std::string& body, HttpBodyType type, bool keep_alive) override;

  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onWritten(uv_write_t* req, int status);
  static void onShutdown(uv_shutdown_t* req, int status);
  static void onTimer(uv_timer_t* timer);
  static void onClosed(uv_handle_t* handle);

  // Parses `n` plaintext bytes at read_buffer_.
  void parse(size_t n);
  // https:// only: decrypts what was fed and parses it, sends the handshake. False when the
  // connection was closed.
  bool pumpTls();
  // ack: sink. An answer waits for the acknowledgements of the sinks its records went to;
  // answers leave in request order (a pipelined request's answer queues behind), and nothing
  // more is read while any waits.
  struct PendingAnswer {
    unsigned acks = 0; // acknowledgements still awaited; 0: ready to be written
    AckResult result = AckResult::Delivered;
    int status = 0;
    std::string extra_headers;
    std::string body;
    bool close = false;
  };
  void onAck(const std::shared_ptr<PendingAnswer>& answer, AckResult result);
  void flushAnswers();
  void stopReading();

  void forward(std::string_view text);
  // Writes an answer, or queues it behind answers that wait for their sinks.
  void send(int status, const std::string& extra_headers, const std::string& body, bool close);
  void writeAnswer(int status, const std::string& extra_headers, const std::string& body,
                   bool close);
  void startLinger();
  void close(const std::string& why);
  void restartTimer(uint64_t ms);
  // Arms the timer for the idle timeout or the current request's deadline, whichever is first.
  void armTimer();

  Worker& worker_;
  ListenerRuntime& listener_;
  uint64_t id_;
  uv_tcp_t io_{};
  uv_timer_t timer_{};
  uv_shutdown_t shutdown_req_{};
  int open_handles_ = 0;
  State state_ = State::Open;
  bool counted_ = false;
  bool reading_ = false;
  int pending_writes_ = 0;
  std::string peer_;    // host:port, for the log
  std::string peer_ip_; // for the failed-authentication limiter
  std::unique_ptr<char[]> read_buffer_;
  HttpRequestParser parser_;
  uint64_t linger_bytes_ = 0;        // read and discarded while lingering
  uint64_t request_deadline_ms_ = 0; // loop time by which the current request must be whole
  std::unique_ptr<tls::TlsSession> tls_;
  std::unique_ptr<char[]> ciphertext_; // https:// only: what one read takes from the socket
  bool tls_established_ = false;
  std::string credential_id_; // of the last accepted credential, for the log

  // ack: sink. The token dies with the connection, so a late acknowledgement finds it gone.
  std::shared_ptr<int> ack_token_;
  std::deque<std::shared_ptr<PendingAnswer>> answers_;
  bool close_after_answers_ = false; // the proxy is stopping: answer, then close
  bool request_overflow_ = false;    // a record of this request found a sink queue full

  // Totals for the close log.
  uint64_t requests_ = 0;
  uint64_t records_ = 0;
  uint64_t forwarded_ = 0;
  std::array<uint64_t, filters::kDropReasonCount> dropped_{};
  // This request's counts.
  uint64_t request_records_ = 0;
  uint64_t request_forwarded_ = 0;
  std::array<uint64_t, filters::kDropReasonCount> request_dropped_{};
};

} // namespace scrub::proxy
