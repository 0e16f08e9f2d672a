#pragma once

// What an HTTP sink does with a batch after an attempt, and how long a `Retry-After` asks it to
// wait. Pure: the caller passes the clock.

#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string_view>

namespace scrub::proxy {

enum class BatchVerdict : uint8_t {
  Delivered, // 2xx: the batch leaves the queue
  Retry,     // no answer (connection error, timeout), 408, 429 or 5xx: sent again later
  Drop,      // another status (4xx: the sink will never take it): dropped and counted
};

// `transport_ok` false: the request got no complete answer (connect, TLS, timeout, reset).
BatchVerdict judgeAttempt(bool transport_ok, long status);

// `Retry-After: <seconds>` or `Retry-After: <HTTP-date>` (RFC 9110 10.2.3) as a delay from
// `now`; nullopt when the value is neither. A date in the past is a delay of 0. Capped at
// `cap` so a misconfigured sink cannot park a batch for days.
std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view value, std::time_t now,
                                                         std::chrono::milliseconds cap);

} // namespace scrub::proxy
