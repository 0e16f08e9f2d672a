#include "proxy/http_auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <array>

namespace scrub::proxy {
namespace {

std::array<unsigned char, SHA256_DIGEST_LENGTH> digest(std::string_view text) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> out{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out.data());
  return out;
}

int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// Compares `presented` with every key; returns the id of the one that matched.
std::optional<std::string> matchKey(const config::HttpListenerConfig& http,
                                    std::string_view presented) {
  std::optional<std::string> found;
  for (const auto& key : http.api_keys) {
    if (constantTimeEquals(presented, key.secret) && !found) {
      found = key.id;
    }
  }
  return found;
}

} // namespace

bool constantTimeEquals(std::string_view a, std::string_view b) {
  // Digests have a fixed length, so neither length nor content leaks through timing.
  const auto da = digest(a);
  const auto db = digest(b);
  return CRYPTO_memcmp(da.data(), db.data(), da.size()) == 0;
}

std::optional<std::string> decodeBase64(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = text[i + j];
      if (c == '=' && i + 4 == text.size() && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) {
        return std::nullopt;
      }
      v[j] = base64Value(c);
      if (v[j] < 0) {
        return std::nullopt;
      }
    }
    const uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<char>((n >> 16) & 0xff));
    if (pad < 2) {
      out.push_back(static_cast<char>((n >> 8) & 0xff));
    }
    if (pad < 1) {
      out.push_back(static_cast<char>(n & 0xff));
    }
  }
  return out;
}

AuthDecision authenticate(const config::HttpListenerConfig& http, std::string_view authorization,
                          std::string_view api_key) {
  AuthDecision decision;
  if (!http.authRequired()) {
    decision.result = AuthDecision::Result::Ok;
    return decision;
  }
  authorization = trim(authorization);
  api_key = trim(api_key);
  if (authorization.empty() && api_key.empty()) {
    decision.result = AuthDecision::Result::Missing;
    return decision;
  }
  decision.result = AuthDecision::Result::Invalid;
  if (!api_key.empty() && !http.api_keys.empty()) {
    if (auto id = matchKey(http, api_key)) {
      decision.result = AuthDecision::Result::Ok;
      decision.credential_id = *id;
      return decision;
    }
  }
  const size_t space = authorization.find(' ');
  if (space == std::string_view::npos) {
    return decision;
  }
  const std::string_view scheme = authorization.substr(0, space);
  const std::string_view value = trim(authorization.substr(space + 1));
  if (equalsIgnoreCase(scheme, "Bearer") && !http.api_keys.empty()) {
    if (auto id = matchKey(http, value)) {
      decision.result = AuthDecision::Result::Ok;
      decision.credential_id = *id;
    }
    return decision;
  }
  if (equalsIgnoreCase(scheme, "Basic") && !http.basic_users.empty()) {
    const auto decoded = decodeBase64(value);
    if (!decoded) {
      return decision;
    }
    const size_t colon = decoded->find(':');
    if (colon == std::string::npos) {
      return decision;
    }
    const std::string_view user = std::string_view(*decoded).substr(0, colon);
    const std::string_view password = std::string_view(*decoded).substr(colon + 1);
    bool matched = false;
    for (const auto& entry : http.basic_users) {
      // Both compared for every entry: no early exit on the user name.
      const bool user_ok = constantTimeEquals(user, entry.user);
      const bool password_ok = constantTimeEquals(password, entry.password);
      if (user_ok && password_ok && !matched) {
        matched = true;
        decision.credential_id = entry.user;
      }
    }
    if (matched) {
      decision.result = AuthDecision::Result::Ok;
    }
  }
  return decision;
}

bool AuthFailureLimiter::blocked(const std::string& peer, uint64_t now_ms) const {
  const auto it = peers_.find(peer);
  if (it == peers_.end()) {
    return false;
  }
  return now_ms - it->second.window_start < window_ms_ && it->second.failures >= max_failures_;
}

unsigned AuthFailureLimiter::recordFailure(const std::string& peer, uint64_t now_ms) {
  if (peers_.size() >= kMaxTrackedPeers && !peers_.contains(peer)) {
    std::erase_if(peers_, [&](const auto& entry) {
      return now_ms - entry.second.window_start >= window_ms_;
    });
    if (peers_.size() >= kMaxTrackedPeers) {
      peers_.clear();
    }
  }
  Entry& entry = peers_[peer];
  if (entry.failures == 0 || now_ms - entry.window_start >= window_ms_) {
    entry.window_start = now_ms;
    entry.failures = 0;
  }
  return ++entry.failures;
}

} // namespace scrub::proxy
