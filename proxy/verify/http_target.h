#pragma once

// verify --live --target http(s)://HOST:PORT/PATH: sends the corpus to a proxy's HTTP ingress as
// POSTs of whole lines (at most kMaxRequestBytes each, application/x-ndjson), one at a time,
// through libcurl's multi interface, so that the caller's poll loop keeps serving the capture
// meanwhile (a proxy with `ack: sink` answers only after its sink — verify — took the records).
// 429 and 503 are sent again after their Retry-After (or 200 ms), a refused connection after
// 20 ms (the proxy may still be starting); any other answer but 200 is an error. A test tool:
// blocking nowhere, but simple.

#include <curl/curl.h>
#include <poll.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "rules/result.h"

namespace scrub::verify {

struct HttpTargetOptions {
  std::string url;     // http(s)://HOST:PORT/PATH
  std::string api_key; // sent as `Authorization: Bearer KEY` when set
  std::string ca_file; // https: the CA bundle; empty: the system's
};

class HttpTarget {
public:
  static constexpr size_t kMaxRequestBytes = 1 << 20;

  // `payload` (NDJSON, ending in '\n') must outlive the target.
  static Result<std::unique_ptr<HttpTarget>> create(const HttpTargetOptions& options,
                                                    const std::string& payload);
  ~HttpTarget();
  HttpTarget(const HttpTarget&) = delete;
  HttpTarget& operator=(const HttpTarget&) = delete;

  // Waits up to `timeout_ms` for `fds` (the caller's; their revents are set) or libcurl's
  // sockets, then moves the transfer on. An error ends the session.
  Status poll(std::vector<pollfd>& fds, int timeout_ms);
  bool done() const { return acknowledged_ == payload_.size(); }
  size_t bytesAcknowledged() const { return acknowledged_; }
  uint64_t requests() const { return requests_; }
  // Whether the target ever answered (false: every attempt failed to connect so far).
  bool answered() const { return answered_; }
  const std::string& lastError() const { return last_error_; }

private:
  HttpTarget(const HttpTargetOptions& options, const std::string& payload);
  void startNext();
  static size_t onHeader(char* data, size_t size, size_t count, void* self);
  static size_t onBody(char* data, size_t size, size_t count, void* self);

  HttpTargetOptions options_;
  const std::string& payload_;
  CURLM* multi_ = nullptr;
  CURL* easy_ = nullptr;
  curl_slist* headers_ = nullptr;
  bool in_flight_ = false;
  size_t acknowledged_ = 0;
  size_t request_end_ = 0;
  uint64_t requests_ = 0;
  std::chrono::steady_clock::time_point next_at_{};
  std::string retry_after_;
  bool answered_ = false;
  std::string last_error_ = "no attempt yet";
  char error_[CURL_ERROR_SIZE] = {};
};

} // namespace scrub::verify
