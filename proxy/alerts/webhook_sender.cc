#include "proxy/alerts/webhook_sender.h"

#include <curl/curl.h>

#include <memory>

#include "proxy/logging.h"

namespace scrub::proxy {
namespace {

size_t discardResponse(char*, size_t size, size_t count, void*) {
  return size * count; // the receiver's answer is not needed, only its status
}

struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct ListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

} // namespace

WebhookSender::WebhookSender(WebhookConfig config) : config_(std::move(config)) {}

WebhookSender::~WebhookSender() {
  stop(std::chrono::milliseconds(0));
}

void WebhookSender::start() {
  thread_ = std::thread([this] { run(); });
}

void WebhookSender::send(std::string json) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return;
    }
    if (queue_.size() >= kMaxQueued) {
      queue_.pop_front();
      ++failed_;
      proxyLog().warn("alerts webhook: {} alerts waiting; the oldest was given up", kMaxQueued);
    }
    queue_.push_back(std::move(json));
  }
  wake_.notify_one();
}

void WebhookSender::stop(std::chrono::milliseconds deadline) {
  {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    wake_.notify_all();
    if (!wake_.wait_for(lock, deadline, [this] { return queue_.empty(); })) {
      failed_ += queue_.size();
      if (!queue_.empty()) {
        proxyLog().warn("alerts webhook: {} alerts not sent before the stop deadline",
                        queue_.size());
      }
      queue_.clear();
    }
    abandon_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

uint64_t WebhookSender::delivered() const {
  std::lock_guard lock(mutex_);
  return delivered_;
}

uint64_t WebhookSender::failed() const {
  std::lock_guard lock(mutex_);
  return failed_;
}

void WebhookSender::run() {
  for (;;) {
    std::string json;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) {
        return;
      }
      json = queue_.front();
    }
    const bool ok = post(json);
    {
      std::lock_guard lock(mutex_);
      if (!queue_.empty()) {
        queue_.pop_front();
      }
      ok ? ++delivered_ : ++failed_;
    }
    wake_.notify_all(); // stop() may be waiting for the queue to empty
  }
}

bool WebhookSender::post(const std::string& json) {
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  std::unique_ptr<curl_slist, ListDeleter> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"));
  if (!easy || !headers) {
    proxyLog().error("alerts webhook: libcurl could not set up a request");
    return false;
  }
  CURL* h = easy.get();
  curl_easy_setopt(h, CURLOPT_URL, config_.url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, json.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(json.size()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout.count()));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discardResponse);
  if (!config_.ca_file.empty()) {
    curl_easy_setopt(h, CURLOPT_CAINFO, config_.ca_file.c_str());
  }
  for (unsigned attempt = 1;; ++attempt) {
    const CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && status >= 200 && status < 300) {
      return true;
    }
    const bool retryable = rc != CURLE_OK || status == 429 || status >= 500;
    const std::string why =
        rc != CURLE_OK ? std::string(curl_easy_strerror(rc)) : "HTTP " + std::to_string(status);
    if (!retryable || attempt >= config_.attempts) {
      proxyLog().error("alerts webhook: alert not delivered ({}, attempt {})", why, attempt);
      return false;
    }
    proxyLog().warn("alerts webhook: {} (attempt {}); retrying", why, attempt);
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, config_.retry_delay * attempt, [this] { return abandon_; })) {
      return false;
    }
  }
}

} // namespace scrub::proxy
