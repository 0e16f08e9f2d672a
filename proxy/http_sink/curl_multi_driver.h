#pragma once

// libcurl's multi interface run by a libuv loop: libcurl says which sockets to watch
// (CURLMOPT_SOCKETFUNCTION: one uv_poll_t per socket) and when to call it back
// (CURLMOPT_TIMERFUNCTION: one uv_timer_t); readiness goes back through
// curl_multi_socket_action. No thread and no blocking call: transfers progress inside the loop's
// callbacks, and finished ones are reported through `done`.
//
// Threading: everything on the loop's thread. Lifetime: close() removes every transfer, cleans
// the multi handle up and closes every uv handle; the object may be destroyed once `on_closed`
// ran (or if it was never started). The easy handles belong to the caller.

#include <curl/curl.h>
#include <uv.h>

#include <functional>
#include <unordered_set>

namespace scrub::proxy {

class CurlMultiDriver {
public:
  // Called on the loop thread for each finished transfer, after it left the multi handle; it may
  // add() again (the same easy handle included) or close().
  using Done = std::function<void(CURL* easy, CURLcode result)>;

  CurlMultiDriver(uv_loop_t* loop, Done done);
  ~CurlMultiDriver();
  CurlMultiDriver(const CurlMultiDriver&) = delete;
  CurlMultiDriver& operator=(const CurlMultiDriver&) = delete;

  // Starts a transfer (the easy handle's options are set). CURLM_OK or the error.
  CURLMcode add(CURL* easy);
  // Abandons a transfer in progress: no `done` for it.
  void remove(CURL* easy);
  void close(std::function<void()> on_closed);
  bool closed() const { return closing_ && open_handles_ == 0; }

private:
  struct Socket {
    uv_poll_t poll{};
    CurlMultiDriver* owner = nullptr;
    curl_socket_t fd = CURL_SOCKET_BAD;
  };

  static int onSocket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
  static int onTimerChange(CURLM* multi, long timeout_ms, void* userp);
  static void onPoll(uv_poll_t* poll, int status, int events);
  static void onTimeout(uv_timer_t* timer);
  static void onHandleClosed(uv_handle_t* handle);

  void act(curl_socket_t fd, int flags);
  void collect();
  void closeSocket(Socket* socket);

  uv_loop_t* loop_;
  Done done_;
  CURLM* multi_ = nullptr;
  uv_timer_t timer_{};
  std::unordered_set<Socket*> sockets_;
  std::unordered_set<CURL*> transfers_;
  int open_handles_ = 0;
  bool closing_ = false;
  std::function<void()> on_closed_;
};

} // namespace scrub::proxy
