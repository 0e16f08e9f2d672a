#pragma once

// Posts alert bodies (JSON) to a webhook with libcurl, on a thread of its own: alerts are rare
// and must never hold up the main loop or a worker, and a blocking easy handle on one thread is
// the simplest correct client for one request at a time. TLS is verified against the system
// CAs or `ca_file`; there is no way to turn that off.
//
// The URL is a secret (a Slack webhook URL is its own credential): it is never logged, and
// failures are logged with the HTTP status or libcurl's generic error text only.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace scrub::proxy {

struct WebhookConfig {
  std::string url;
  std::string ca_file;
  std::chrono::milliseconds timeout{10000};
  unsigned attempts = 3; // per alert, for connection errors, timeouts, 429 and 5xx
  std::chrono::milliseconds retry_delay{1000};
};

class WebhookSender {
public:
  explicit WebhookSender(WebhookConfig config);
  ~WebhookSender(); // stop(0)
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  void start();
  // Any thread: queues one JSON body. Beyond kMaxQueued the oldest is given up (counted).
  void send(std::string json);
  // Waits up to `deadline` for what is queued to go, then gives up the rest and joins.
  void stop(std::chrono::milliseconds deadline);

  uint64_t delivered() const;
  uint64_t failed() const;

  static constexpr size_t kMaxQueued = 64;

private:
  void run();
  bool post(const std::string& json); // one alert, with its retries

  const WebhookConfig config_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  bool abandon_ = false;
  uint64_t delivered_ = 0;
  uint64_t failed_ = 0;
  std::thread thread_;
};

} // namespace scrub::proxy
