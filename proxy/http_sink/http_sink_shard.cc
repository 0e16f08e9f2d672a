#include "proxy/http_sink/http_sink_shard.h"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <random>

#include "proxy/http_sink/bulk_response.h"
#include "proxy/http_sink/delivery_policy.h"
#include "proxy/http_sink/gzip_body.h"
#include "proxy/http_sink/http_body_encoder.h"
#include "proxy/logging.h"
#include "proxy/wipe.h"

namespace scrub::proxy {
namespace {

// The longest a Retry-After may park a batch; beyond it the sink is treated as asking too much.
constexpr std::chrono::milliseconds kMaxRetryAfter{300000};

// A `_bulk` answer is a few hundred bytes per record; one past this is not read (the batch is
// then sent again whole, as for an answer that cannot be matched to the records).
constexpr size_t kMaxBulkAnswerBytes = 32 << 20;

// Appends to a buffer that may hold payload, keeping `headroom` spare bytes after it; when it
// must grow, the old buffer is wiped before it is freed (std::string would free it as it is).
void appendKeepingHeadroom(std::string& to, std::string_view bytes, size_t headroom) {
  if (to.capacity() < to.size() + bytes.size() + headroom) {
    std::string grown;
    grown.reserve(2 * (to.size() + bytes.size() + headroom));
    grown.assign(to);
    wipe(to);
    to.swap(grown);
  }
  to.append(bytes);
}

std::string statusCounts(const std::map<long, uint64_t>& statuses) {
  std::string out;
  for (const auto& [status, records] : statuses) {
    out += (out.empty() ? "" : ", ") + std::to_string(status) + " x" + std::to_string(records);
  }
  return out;
}

uint64_t seedFor(unsigned worker) {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device() ^ (worker * 0x9e3779b97f4a7c15ULL);
}

uint64_t unixNanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string bracketed(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

} // namespace

HttpSinkShard::HttpSinkShard(ShardHost& host, const config::SinkConfig& config, SinkStats& stats,
                             const SinkQueueLimits& limits)
    : SinkShard(host, config, stats, limits),
      backoff_(config.reconnect_min, config.reconnect_max, seedFor(host.workerIndex())) {}

HttpSinkShard::~HttpSinkShard() {
  if (easy_ != nullptr) {
    curl_easy_cleanup(easy_);
  }
  curl_slist_free_all(headers_);
  curl_slist_free_all(connect_to_list_);
  wipe(plain_);
  wipe(gzip_);
  wipe(answer_);
}

void HttpSinkShard::start() {
  const config::Address& address = config_.address;
  const config::TlsClientConfig& tls = config_.tls;
  const std::string port = std::to_string(address.port);
  // With a server_name, the URL names it (so the Host header, SNI and the certificate check all
  // use it) and CONNECT_TO sends the connection to the configured address.
  const std::string url_host =
      !tls.server_name.empty() && address.tls ? tls.server_name : address.host;
  url_ = std::string(address.tls ? "https://" : "http://") + bracketed(url_host) + ":" + port +
         address.target;
  if (url_host != address.host) {
    connect_to_ = bracketed(url_host) + ":" + port + ":" + bracketed(address.host) + ":" + port;
    connect_to_list_ = curl_slist_append(nullptr, connect_to_.c_str());
  }

  headers_ = curl_slist_append(
      headers_, ("Content-Type: " + std::string(contentType(config_.http.format))).c_str());
  if (config_.http.gzip) {
    headers_ = curl_slist_append(headers_, "Content-Encoding: gzip");
  }
  headers_ = curl_slist_append(headers_, "Expect:"); // no 100-continue round trip
  for (const auto& [name, value] : config_.http.headers) {
    headers_ = curl_slist_append(headers_, (name + ": " + value).c_str());
  }

  easy_ = curl_easy_init();
  curl_easy_setopt(easy_, CURLOPT_URL, url_.c_str());
  if (connect_to_list_ != nullptr) {
    curl_easy_setopt(easy_, CURLOPT_CONNECT_TO, connect_to_list_);
  }
  curl_easy_setopt(easy_, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy_, CURLOPT_PROXY, ""); // never through an http_proxy from the environment
  curl_easy_setopt(easy_, CURLOPT_POST, 1L);
  curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers_);
  curl_easy_setopt(easy_, CURLOPT_USERAGENT, "scrubproxy");
  curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy_, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(config_.http.request_timeout.count()));
  curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(config_.connect_timeout.count()));
  curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, onResponseBody);
  curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, error_);
  curl_easy_setopt(easy_, CURLOPT_PRIVATE, this);
  if (address.tls) {
    if (!tls.ca_file.empty()) {
      curl_easy_setopt(easy_, CURLOPT_CAINFO, tls.ca_file.c_str());
    }
    if (!tls.cert_file.empty()) {
      curl_easy_setopt(easy_, CURLOPT_SSLCERT, tls.cert_file.c_str());
    }
    if (!tls.key_file.empty()) {
      curl_easy_setopt(easy_, CURLOPT_SSLKEY, tls.key_file.c_str());
    }
    curl_easy_setopt(easy_, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
    if (tls.insecure_skip_verify) {
      curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYHOST, 0L);
      sinkLog().warn("{}: insecure_skip_verify is set: the certificate of {} is NOT verified; "
                     "anyone on the path can read and alter what is sent",
                     label(), address.url());
    } else {
      curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYPEER, 1L);
      curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYHOST, 2L);
    }
  }

  uv_timer_init(host_.loop(), &timer_);
  timer_.data = this;
  timer_open_ = true;
  driver_ = std::make_unique<CurlMultiDriver>(host_.loop(),
                                              [this](CURL*, CURLcode result) { onDone(result); });
  driver_closed_ = false;
  stats_.connected.set(1); // reachable until an attempt fails (for /readyz)
  sinkLog().debug("{}: HTTP sink {} ({})", label(), address.url(),
                  config::formatName(config_.http.format));
}

void HttpSinkShard::kick() {
  if (state_ != State::Idle || !driver_) {
    return;
  }
  if (queue_.empty()) {
    if (stopping_) {
      finish();
    }
    return;
  }
  const bool full = queue_.queuedBytes() >= config_.batch_bytes ||
                    queue_.queuedLines() >= config_.http.batch_records;
  if (!full && !stopping_ && !flush_due_) {
    if (!flush_armed_) {
      flush_armed_ = true;
      uv_timer_start(&timer_, onTimer, static_cast<uint64_t>(config_.http.flush_interval.count()),
                     0);
    }
    return;
  }
  if (flush_armed_) {
    uv_timer_stop(&timer_);
    flush_armed_ = false;
  }
  flush_due_ = false;
  send();
}

void HttpSinkShard::send() {
  batch_ = queue_.take(config_.batch_bytes, config_.http.batch_records);
  retry_records_.clear();
  refused_records_.clear();
  if (!encodeBody()) {
    // Only running out of memory makes zlib fail here: the lines go back to the queue and are
    // encoded again after a backoff.
    queue_.putBack(std::move(batch_));
    retryLater("gzip failed", false);
    return;
  }
  failed_attempts_ = 0;
  transmit();
}

bool HttpSinkShard::encodeBody() {
  wipe(plain_);
  wipe(gzip_);
  const size_t bound = HttpBodyEncoder::bound(config_.http, batch_.bytes, batch_.lines);
  if (plain_.capacity() < bound) {
    std::string().swap(plain_);
    plain_.reserve(bound);
  }
  HttpBodyEncoder encoder(config_.http, plain_, unixNanos());
  if (retry_records_.empty()) {
    for (const auto& chunk : batch_.chunks) {
      encoder.addLines(chunk.bytes);
    }
  } else {
    auto wanted = retry_records_.begin();
    uint32_t index = 0;
    for (const auto& chunk : batch_.chunks) {
      std::string_view lines = chunk.bytes;
      while (!lines.empty() && wanted != retry_records_.end()) {
        const size_t end = lines.find('\n');
        const std::string_view record = lines.substr(0, end);
        lines.remove_prefix(end == std::string_view::npos ? lines.size() : end + 1);
        if (*wanted == index++) {
          encoder.add(record);
          ++wanted;
        }
      }
    }
  }
  encoder.finish();
  const std::string* body = &plain_;
  if (config_.http.gzip) {
    if (!gzipBody(plain_, gzip_)) {
      wipe(plain_);
      return false;
    }
    wipe(plain_);
    body = &gzip_;
  }
  curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, body->data());
  curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  return true;
}

void HttpSinkShard::transmit() {
  wipe(answer_);
  answer_overflow_ = false;
  retry_after_.clear();
  error_[0] = '\0';
  state_ = State::Sending;
  if (const CURLMcode rc = driver_->add(easy_); rc != CURLM_OK) {
    retryLater(curl_multi_strerror(rc), false);
  }
}

size_t HttpSinkShard::onHeader(char* data, size_t size, size_t count, void* self_ptr) {
  auto* self = static_cast<HttpSinkShard*>(self_ptr);
  const std::string_view header(data, size * count);
  if (header.starts_with("HTTP/")) {
    self->retry_after_.clear(); // a new response (after a 100 Continue, say)
  }
  constexpr std::string_view kName = "retry-after:";
  if (header.size() > kName.size()) {
    bool match = true;
    for (size_t i = 0; i < kName.size() && match; ++i) {
      match = std::tolower(static_cast<unsigned char>(header[i])) == kName[i];
    }
    if (match) {
      self->retry_after_.assign(header.substr(kName.size(), 64));
    }
  }
  return size * count;
}

size_t HttpSinkShard::onResponseBody(char* data, size_t size, size_t count, void* self_ptr) {
  // Never logged. Only a `_bulk` answer is read (which records were stored), then wiped.
  auto* self = static_cast<HttpSinkShard*>(self_ptr);
  if (self->config_.http.format == config::HttpSinkFormat::ElasticsearchBulk &&
      !self->answer_overflow_) {
    if (self->answer_.size() + size * count > kMaxBulkAnswerBytes) {
      self->answer_overflow_ = true;
      wipe(self->answer_);
    } else {
      appendKeepingHeadroom(self->answer_, std::string_view(data, size * count),
                            simdjson::SIMDJSON_PADDING);
    }
  }
  return size * count;
}

bool HttpSinkShard::takeBulkAnswer() {
  const uint64_t sent = retry_records_.empty() ? batch_.lines : retry_records_.size();
  const BulkResponse answer = answer_overflow_
                                  ? BulkResponse{BulkResponse::Kind::Unreadable, {}, {}, {}}
                                  : readBulkResponse(answer_, answer_.capacity(), sent);
  wipe(answer_);
  if (answer.kind == BulkResponse::Kind::Stored) {
    return true;
  }
  if (answer.kind == BulkResponse::Kind::Unreadable) {
    retryLater("the _bulk answer says some records were not stored but does not say which", false);
    return false;
  }
  // Positions in the answer are positions in what was sent: the batch, or its records to retry.
  auto recordAt = [&](uint32_t position) {
    return retry_records_.empty() ? position : retry_records_[position];
  };
  std::map<long, uint64_t> retry_statuses;
  std::map<long, uint64_t> refused_statuses;
  for (const auto& [status, records] : answer.failed_statuses) {
    (judgeAttempt(true, status) == BatchVerdict::Retry ? retry_statuses
                                                       : refused_statuses)[status] = records;
  }
  if (!answer.refused.empty()) {
    for (uint32_t position : answer.refused) {
      refused_records_.push_back(recordAt(position));
    }
    std::sort(refused_records_.begin(), refused_records_.end());
    sinkLog().error("{}: {} refused {} of {} records of a _bulk request ({}); they are dropped "
                    "(the sink will not take them however often they are sent)",
                    label(), config_.address.url(), answer.refused.size(), sent,
                    statusCounts(refused_statuses));
  }
  if (answer.retry.empty()) {
    return true;
  }
  std::vector<uint32_t> retry;
  for (uint32_t position : answer.retry) {
    retry.push_back(recordAt(position));
  }
  retry_records_ = std::move(retry);
  body_stale_ = !encodeBody();
  retryLater(std::to_string(answer.retry.size()) + " of " + std::to_string(sent) +
                 " records answered " + statusCounts(retry_statuses) +
                 " in the _bulk answer; only those are sent again",
             false);
  return false;
}

std::string HttpSinkShard::describe(CURLcode result, long status) const {
  if (result != CURLE_OK) {
    return error_[0] != '\0' ? std::string(error_) : std::string(curl_easy_strerror(result));
  }
  return "HTTP " + std::to_string(status);
}

void HttpSinkShard::onDone(CURLcode result) {
  long status = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
  switch (judgeAttempt(result == CURLE_OK, status)) {
  case BatchVerdict::Delivered:
    stats_.connected.set(1);
    if (config_.http.format == config::HttpSinkFormat::ElasticsearchBulk && !takeBulkAnswer()) {
      return; // part of the batch is sent again
    }
    countDelivered(batch_, refused_records_.size());
    stats_.lines_rejected.add(refused_records_.size());
    if (failed_attempts_ > 0) {
      sinkLog().info("{}: delivered to {} after {} failed attempts; {} lines queued", label(),
                     config_.address.url(), failed_attempts_, queue_.queuedLines());
    }
    backoff_.reset();
    completeBatch(AckResult::Delivered);
    break;
  case BatchVerdict::Drop:
    stats_.connected.set(1); // it answered: reachable, only this batch is refused
    stats_.batches_dropped.add();
    countUnfinished(stats_.lines_rejected);
    sinkLog().error("{}: {} refused a batch of {} lines with HTTP {}; the batch is dropped "
                    "(the sink will not take it however often it is sent)",
                    label(), config_.address.url(),
                    retry_records_.empty() ? batch_.lines : retry_records_.size(), status);
    completeBatch(AckResult::Dropped);
    break;
  case BatchVerdict::Retry:
    retryLater(describe(result, status), status == 429 || status == 503);
    return;
  }
  kick();
}

void HttpSinkShard::retryLater(const std::string& why, bool retry_after_applies) {
  ++failed_attempts_;
  stats_.batches_failed.add();
  stats_.connected.set(0); // for /readyz: not taking batches now
  std::chrono::milliseconds delay = backoff_.next();
  if (retry_after_applies && !retry_after_.empty()) {
    if (const auto asked = parseRetryAfter(retry_after_, std::time(nullptr), kMaxRetryAfter)) {
      delay = *asked;
    }
  }
  if (failed_attempts_ == 1) {
    sinkLog().warn("{}: sending {} lines to {} failed ({}); holding them and retrying in {}ms",
                   label(), batch_.lines, config_.address.url(), why, delay.count());
  } else {
    sinkLog().debug("{}: attempt {} failed ({}); retrying in {}ms", label(), failed_attempts_, why,
                    delay.count());
  }
  state_ = State::Waiting;
  flush_armed_ = false;
  uv_timer_start(&timer_, onTimer, static_cast<uint64_t>(delay.count()), 0);
}

void HttpSinkShard::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<HttpSinkShard*>(timer->data);
  if (self->state_ == State::Waiting) {
    if (self->batch_.empty()) { // put back (gzip failed): encode it again
      self->state_ = State::Idle;
      self->flush_due_ = true;
      self->kick();
      return;
    }
    if (self->body_stale_) {
      if (!self->encodeBody()) {
        self->retryLater("gzip failed", false);
        return;
      }
      self->body_stale_ = false;
    }
    self->stats_.retries.add();
    self->transmit();
    return;
  }
  if (self->state_ == State::Idle) {
    self->flush_armed_ = false;
    self->flush_due_ = true;
    self->kick();
  }
}

void HttpSinkShard::countUnfinished(Counter& unfinished) {
  const uint64_t pending = retry_records_.empty() ? batch_.lines : retry_records_.size();
  unfinished.add(pending);
  stats_.lines_rejected.add(refused_records_.size());
  stats_.lines_delivered.add(batch_.lines - pending - refused_records_.size());
}

void HttpSinkShard::completeBatch(AckResult result) {
  const uint64_t first = acked_;
  acked_ += batch_.lines;
  const uint64_t last = acked_;
  queue_.release(std::move(batch_));
  wipe(plain_);
  wipe(gzip_);
  state_ = State::Idle;
  failed_attempts_ = 0;
  retry_records_.clear();
  body_stale_ = false;
  afterRelease();
  // Waiters are in push order and their ranges do not overlap: mark the ones this batch touched
  // (all of them for a batch dropped or given up, those holding a refused record otherwise),
  // then answer those it completed. A callback may push and flush again: the batch is gone.
  auto refused = refused_records_.begin();
  for (auto& waiter : waiters_) {
    if (waiter.first >= last) {
      break;
    }
    if (waiter.last <= first) {
      continue;
    }
    if (result != AckResult::Delivered) {
      waiter.result = result;
      continue;
    }
    // Lines are numbered from 1: the batch's record i is line first + 1 + i.
    while (refused != refused_records_.end() && first + 1 + *refused <= waiter.first) {
      ++refused;
    }
    if (refused != refused_records_.end() && first + 1 + *refused <= waiter.last) {
      waiter.result = AckResult::Dropped;
    }
  }
  refused_records_.clear();
  while (!waiters_.empty() && waiters_.front().last <= last) {
    Waiter done = std::move(waiters_.front());
    waiters_.pop_front();
    done.done(done.result);
  }
}

bool HttpSinkShard::awaitAck(uint64_t first, uint64_t last, std::function<void(AckResult)> done) {
  if (state_ == State::Closed || aborting_) {
    return false;
  }
  waiters_.push_back(Waiter{first, last, AckResult::Delivered, std::move(done)});
  return true;
}

void HttpSinkShard::failWaiters(AckResult result) {
  while (!waiters_.empty()) {
    Waiter done = std::move(waiters_.front());
    waiters_.pop_front();
    done.done(result);
  }
}

void HttpSinkShard::stop(bool abort) {
  stopping_ = true;
  if (abort && !aborting_) {
    aborting_ = true;
    stats_.lines_undelivered.add(queue_.discardQueued());
    if (state_ == State::Sending || state_ == State::Waiting) {
      if (state_ == State::Sending) {
        driver_->remove(easy_);
      }
      countUnfinished(stats_.lines_undelivered);
      completeBatch(AckResult::Shutdown);
    }
    finish();
    return;
  }
  kick();
}

void HttpSinkShard::finish() {
  if (state_ == State::Closed) {
    return;
  }
  state_ = State::Closed;
  failWaiters(AckResult::Shutdown);
  if (timer_open_) {
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), onTimerClosed);
  }
  if (driver_) {
    driver_->close([this] {
      driver_closed_ = true;
      maybeClosed();
    });
  }
  maybeClosed();
}

void HttpSinkShard::onTimerClosed(uv_handle_t* handle) {
  auto* self = static_cast<HttpSinkShard*>(handle->data);
  self->timer_open_ = false;
  self->maybeClosed();
}

void HttpSinkShard::maybeClosed() {
  if (state_ == State::Closed && !timer_open_ && driver_closed_ && !closed_) {
    closed_ = true;
    host_.onSinkClosed();
  }
}

} // namespace scrub::proxy
