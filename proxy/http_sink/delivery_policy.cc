#include "proxy/http_sink/delivery_policy.h"

#include <curl/curl.h>

#include <algorithm>
#include <string>

namespace scrub::proxy {

BatchVerdict judgeAttempt(bool transport_ok, long status) {
  if (!transport_ok) {
    return BatchVerdict::Retry;
  }
  if (status >= 200 && status < 300) {
    return BatchVerdict::Delivered;
  }
  if (status == 408 || status == 429 || status >= 500) {
    return BatchVerdict::Retry;
  }
  return BatchVerdict::Drop;
}

std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view value, std::time_t now,
                                                         std::chrono::milliseconds cap) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r' ||
                            value.back() == '\n')) {
    value.remove_suffix(1);
  }
  if (value.empty()) {
    return std::nullopt;
  }
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    uint64_t seconds = 0;
    for (const char c : value) {
      seconds = seconds * 10 + static_cast<uint64_t>(c - '0');
      if (seconds > static_cast<uint64_t>(cap.count()) / 1000 + 1) {
        return cap;
      }
    }
    return std::min(cap, std::chrono::milliseconds(seconds * 1000));
  }
  // libcurl's date parser takes the three forms RFC 9110 allows (IMF-fixdate, RFC 850, asctime).
  const std::string text(value);
  const time_t when = curl_getdate(text.c_str(), nullptr);
  if (when == -1) {
    return std::nullopt;
  }
  if (when <= now) {
    return std::chrono::milliseconds(0);
  }
  return std::min(cap, std::chrono::milliseconds(static_cast<int64_t>(when - now) * 1000));
}

} // namespace scrub::proxy
