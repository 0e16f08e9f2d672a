#include "proxy/http_sink/curl_multi_driver.h"

#include <vector>

namespace scrub::proxy {

CurlMultiDriver::CurlMultiDriver(uv_loop_t* loop, Done done) : loop_(loop), done_(std::move(done)) {
  multi_ = curl_multi_init();
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, onSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, onTimerChange);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  ++open_handles_;
}

CurlMultiDriver::~CurlMultiDriver() {
  // Normally closed already; a driver that was never run is closed here on a loop that will not
  // run again only in start-up failures, where the loop is closed right after.
  if (multi_ != nullptr) {
    curl_multi_cleanup(multi_);
  }
}

CURLMcode CurlMultiDriver::add(CURL* easy) {
  if (closing_) {
    return CURLM_BAD_HANDLE;
  }
  const CURLMcode rc = curl_multi_add_handle(multi_, easy);
  if (rc == CURLM_OK) {
    transfers_.insert(easy);
  }
  return rc;
}

void CurlMultiDriver::remove(CURL* easy) {
  if (transfers_.erase(easy) > 0) {
    curl_multi_remove_handle(multi_, easy);
  }
}

int CurlMultiDriver::onSocket(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) {
  auto* self = static_cast<CurlMultiDriver*>(userp);
  auto* socket = static_cast<Socket*>(socketp);
  if (what == CURL_POLL_REMOVE) {
    if (socket != nullptr) {
      if (self->multi_ != nullptr) {
        curl_multi_assign(self->multi_, fd, nullptr);
      }
      self->closeSocket(socket);
    }
    return 0;
  }
  if (socket == nullptr) {
    socket = new Socket;
    socket->owner = self;
    socket->fd = fd;
    if (uv_poll_init_socket(self->loop_, &socket->poll, fd) < 0) {
      delete socket;
      return -1; // libcurl fails the transfer
    }
    socket->poll.data = socket;
    ++self->open_handles_;
    self->sockets_.insert(socket);
    curl_multi_assign(self->multi_, fd, socket);
  }
  int events = 0;
  if (what & CURL_POLL_IN) {
    events |= UV_READABLE;
  }
  if (what & CURL_POLL_OUT) {
    events |= UV_WRITABLE;
  }
  uv_poll_start(&socket->poll, events, onPoll);
  return 0;
}

int CurlMultiDriver::onTimerChange(CURLM*, long timeout_ms, void* userp) {
  auto* self = static_cast<CurlMultiDriver*>(userp);
  if (self->closing_) {
    return 0;
  }
  if (timeout_ms < 0) {
    uv_timer_stop(&self->timer_);
  } else {
    // Even a 0 timeout goes through the loop: libcurl must not be re-entered from its callback.
    uv_timer_start(&self->timer_, onTimeout, static_cast<uint64_t>(timeout_ms), 0);
  }
  return 0;
}

void CurlMultiDriver::onPoll(uv_poll_t* poll, int status, int events) {
  auto* socket = static_cast<Socket*>(poll->data);
  int flags = 0;
  if (status < 0) {
    flags = CURL_CSELECT_ERR;
  } else {
    if (events & UV_READABLE) {
      flags |= CURL_CSELECT_IN;
    }
    if (events & UV_WRITABLE) {
      flags |= CURL_CSELECT_OUT;
    }
  }
  socket->owner->act(socket->fd, flags);
}

void CurlMultiDriver::onTimeout(uv_timer_t* timer) {
  static_cast<CurlMultiDriver*>(timer->data)->act(CURL_SOCKET_TIMEOUT, 0);
}

void CurlMultiDriver::act(curl_socket_t fd, int flags) {
  if (closing_) {
    return;
  }
  int running = 0;
  curl_multi_socket_action(multi_, fd, flags, &running);
  collect();
}

void CurlMultiDriver::collect() {
  int left = 0;
  while (!closing_) {
    CURLMsg* message = curl_multi_info_read(multi_, &left);
    if (message == nullptr) {
      break;
    }
    if (message->msg != CURLMSG_DONE) {
      continue;
    }
    CURL* easy = message->easy_handle;
    const CURLcode result = message->data.result;
    transfers_.erase(easy);
    curl_multi_remove_handle(multi_, easy);
    done_(easy, result); // may add() or close()
  }
}

void CurlMultiDriver::closeSocket(Socket* socket) {
  if (sockets_.erase(socket) == 0) {
    return;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&socket->poll), onHandleClosed);
}

void CurlMultiDriver::close(std::function<void()> on_closed) {
  if (closing_) {
    return;
  }
  closing_ = true;
  on_closed_ = std::move(on_closed);
  for (CURL* easy : transfers_) {
    curl_multi_remove_handle(multi_, easy);
  }
  transfers_.clear();
  // Closes the cached connections; libcurl may still report sockets to remove, handled above.
  curl_multi_cleanup(multi_);
  multi_ = nullptr;
  std::vector<Socket*> left(sockets_.begin(), sockets_.end());
  for (Socket* socket : left) {
    closeSocket(socket);
  }
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), onHandleClosed);
}

void CurlMultiDriver::onHandleClosed(uv_handle_t* handle) {
  CurlMultiDriver* self = nullptr;
  if (handle->type == UV_POLL) {
    auto* socket = static_cast<Socket*>(handle->data);
    self = socket->owner;
    delete socket;
  } else {
    self = static_cast<CurlMultiDriver*>(handle->data);
  }
  if (--self->open_handles_ == 0 && self->closing_ && self->on_closed_) {
    auto callback = std::move(self->on_closed_);
    callback(); // may destroy this object
  }
}

} // namespace scrub::proxy
