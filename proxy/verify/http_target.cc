#include "proxy/verify/http_target.h"

#include <algorithm>
#include <cctype>

namespace scrub::verify {
namespace {

using Clock = std::chrono::steady_clock;

int msUntil(Clock::time_point when) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(when - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, 1000));
}

} // namespace

Result<std::unique_ptr<HttpTarget>> HttpTarget::create(const HttpTargetOptions& options,
                                                       const std::string& payload) {
  if (options.url.rfind("http://", 0) != 0 && options.url.rfind("https://", 0) != 0) {
    return Error{options.url + ": expected http(s)://HOST:PORT/PATH"};
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    return Error{"libcurl failed to initialise"};
  }
  return std::unique_ptr<HttpTarget>(new HttpTarget(options, payload));
}

HttpTarget::HttpTarget(const HttpTargetOptions& options, const std::string& payload)
    : options_(options), payload_(payload) {
  multi_ = curl_multi_init();
  easy_ = curl_easy_init();
  headers_ = curl_slist_append(headers_, "Content-Type: application/x-ndjson");
  headers_ = curl_slist_append(headers_, "Expect:");
  if (!options_.api_key.empty()) {
    headers_ = curl_slist_append(headers_, ("Authorization: Bearer " + options_.api_key).c_str());
  }
  curl_easy_setopt(easy_, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(easy_, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy_, CURLOPT_PROXY, "");
  curl_easy_setopt(easy_, CURLOPT_POST, 1L);
  curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers_);
  curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, error_);
  if (!options_.ca_file.empty()) {
    curl_easy_setopt(easy_, CURLOPT_CAINFO, options_.ca_file.c_str());
  }
  next_at_ = Clock::now();
}

HttpTarget::~HttpTarget() {
  if (in_flight_) {
    curl_multi_remove_handle(multi_, easy_);
  }
  curl_easy_cleanup(easy_);
  curl_multi_cleanup(multi_);
  curl_slist_free_all(headers_);
}

size_t HttpTarget::onHeader(char* data, size_t size, size_t count, void* self_ptr) {
  auto* self = static_cast<HttpTarget*>(self_ptr);
  std::string header(data, size * count);
  std::transform(header.begin(), header.end(), header.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (header.rfind("retry-after:", 0) == 0) {
    self->retry_after_ = header.substr(12);
  }
  return size * count;
}

size_t HttpTarget::onBody(char*, size_t size, size_t count, void*) {
  return size * count; // the proxy's summary: counts only, not needed
}

void HttpTarget::startNext() {
  size_t end = std::min(payload_.size(), acknowledged_ + kMaxRequestBytes);
  if (end < payload_.size()) {
    const size_t newline = payload_.rfind('\n', end - 1);
    end = newline != std::string::npos && newline >= acknowledged_ ? newline + 1 : end;
  }
  request_end_ = end;
  retry_after_.clear();
  error_[0] = '\0';
  curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, payload_.data() + acknowledged_);
  curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(request_end_ - acknowledged_));
  curl_multi_add_handle(multi_, easy_);
  in_flight_ = true;
  ++requests_;
}

Status HttpTarget::poll(std::vector<pollfd>& fds, int timeout_ms) {
  if (!in_flight_ && !done()) {
    if (Clock::now() >= next_at_) {
      startNext();
    } else {
      timeout_ms = std::min(timeout_ms, msUntil(next_at_));
    }
  }
  std::vector<curl_waitfd> wait(fds.size());
  for (size_t i = 0; i < fds.size(); ++i) {
    wait[i].fd = fds[i].fd;
    wait[i].events = static_cast<short>(fds[i].events);
    wait[i].revents = 0;
  }
  if (const CURLMcode rc = curl_multi_poll(multi_, wait.data(), static_cast<unsigned>(wait.size()),
                                           timeout_ms, nullptr);
      rc != CURLM_OK) {
    return Error{std::string("poll: ") + curl_multi_strerror(rc)};
  }
  for (size_t i = 0; i < fds.size(); ++i) {
    fds[i].revents = static_cast<short>(wait[i].revents);
  }
  int running = 0;
  curl_multi_perform(multi_, &running);
  int left = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
    if (message->msg != CURLMSG_DONE) {
      continue;
    }
    const CURLcode result = message->data.result;
    curl_multi_remove_handle(multi_, easy_);
    in_flight_ = false;
    long status = 0;
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
    if (result == CURLE_COULDNT_CONNECT) {
      last_error_ = error_[0] != '\0' ? std::string(error_) : curl_easy_strerror(result);
      next_at_ = Clock::now() + std::chrono::milliseconds(20); // not listening yet
      continue;
    }
    answered_ = true;
    if (result != CURLE_OK) {
      return Error{options_.url + ": " +
                   (error_[0] != '\0' ? std::string(error_) : curl_easy_strerror(result))};
    } else if (status == 200) {
      acknowledged_ = request_end_;
      next_at_ = Clock::now();
    } else if (status == 429 || status == 503) {
      int seconds = 0;
      for (const char c : retry_after_) {
        if (c >= '0' && c <= '9') {
          seconds = std::min(seconds * 10 + (c - '0'), 60);
        }
      }
      next_at_ = Clock::now() + (seconds > 0 ? std::chrono::milliseconds(seconds * 1000)
                                             : std::chrono::milliseconds(200));
    } else {
      return Error{options_.url + ": the target answered HTTP " + std::to_string(status) +
                   " after " + std::to_string(acknowledged_) + " bytes"};
    }
  }
  return Ok{};
}

} // namespace scrub::verify
