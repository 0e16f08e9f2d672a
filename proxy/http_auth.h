#pragma once

// Authentication of HTTP ingress requests: API keys (`Authorization: Bearer KEY` or a configured
// header such as `X-API-Key`) and HTTP Basic, several credentials at once so keys can rotate.
// Secrets are compared in constant time (SHA-256 of both sides, then CRYPTO_memcmp), and every
// configured credential is compared, so timing tells neither which one nor how much matched.
//
// Pure: no sockets, no logging. AuthFailureLimiter is per worker thread (not thread-safe).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "config/proxy_config.h"

namespace scrub::proxy {

// True when `a` and `b` are the same bytes; the time taken depends on neither.
bool constantTimeEquals(std::string_view a, std::string_view b);

// Standard base64 (RFC 4648, padding required when the length is not a multiple of 4).
std::optional<std::string> decodeBase64(std::string_view text);

struct AuthDecision {
  enum class Result : uint8_t { Ok, Missing, Invalid };
  Result result = Result::Missing;
  std::string credential_id; // Ok: the key id or the Basic user name, for the log
};

// `authorization`: the Authorization header ("" if absent); `api_key`: the configured API key
// header ("" if absent). Always Ok when the listener requires no credential.
AuthDecision authenticate(const config::HttpListenerConfig& http, std::string_view authorization,
                          std::string_view api_key);

// Failed attempts per peer address in a fixed window: once a peer reached `max_failures` in the
// current window, blocked() is true until the window ends. Memory is bounded: past
// kMaxTrackedPeers the expired entries are dropped, and if none is expired the oldest window
// restarts for everyone (failing open on tracking, never on authentication).
class AuthFailureLimiter {
public:
  static constexpr size_t kMaxTrackedPeers = 4096;

  AuthFailureLimiter(unsigned max_failures, uint64_t window_ms)
      : max_failures_(max_failures), window_ms_(window_ms) {}

  bool blocked(const std::string& peer, uint64_t now_ms) const;
  // Returns the number of failures of `peer` in the current window, this one included.
  unsigned recordFailure(const std::string& peer, uint64_t now_ms);
  size_t trackedPeers() const { return peers_.size(); }

private:
  struct Entry {
    uint64_t window_start = 0;
    unsigned failures = 0;
  };
  unsigned max_failures_;
  uint64_t window_ms_;
  std::unordered_map<std::string, Entry> peers_;
};

} // namespace scrub::proxy
