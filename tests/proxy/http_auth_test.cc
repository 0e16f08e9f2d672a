#include "proxy/http_auth.h"

#include <catch2/catch.hpp>

using scrub::config::HttpListenerConfig;
using scrub::proxy::AuthDecision;
using scrub::proxy::authenticate;
using scrub::proxy::AuthFailureLimiter;
using scrub::proxy::constantTimeEquals;
using scrub::proxy::decodeBase64;

namespace {

const std::string kOld = std::string(32, 'a') + "-old";
const std::string kNew = std::string(32, 'b') + "-new";

HttpListenerConfig withCredentials() {
  HttpListenerConfig http;
  http.api_keys = {{"old", kOld}, {"new", kNew}};
  http.basic_users = {{"runner", "correct horse battery"}};
  return http;
}

} // namespace

TEST_CASE("constantTimeEquals compares bytes of any length") {
  CHECK(constantTimeEquals("secret-value", "secret-value"));
  CHECK_FALSE(constantTimeEquals("secret-value", "secret-valuf"));
  CHECK_FALSE(constantTimeEquals("secret", "secret-value"));
  CHECK_FALSE(constantTimeEquals("", "x"));
  CHECK(constantTimeEquals("", ""));
}

TEST_CASE("decodeBase64") {
  CHECK(decodeBase64("cnVubmVyOnB3") == std::optional<std::string>("runner:pw"));
  CHECK(decodeBase64("YQ==") == std::optional<std::string>("a"));
  CHECK(decodeBase64("YWI=") == std::optional<std::string>("ab"));
  CHECK(decodeBase64("") == std::optional<std::string>(""));
  CHECK_FALSE(decodeBase64("YQ="));
  CHECK_FALSE(decodeBase64("Y=Q="));
  CHECK_FALSE(decodeBase64("YQ!="));
}

TEST_CASE("authenticate: no credential configured lets everything in") {
  CHECK(authenticate(HttpListenerConfig{}, "", "").result == AuthDecision::Result::Ok);
}

TEST_CASE("authenticate: API keys, rotation, Basic") {
  const auto http = withCredentials();
  using R = AuthDecision::Result;
  CHECK(authenticate(http, "", "").result == R::Missing);
  auto d = authenticate(http, "Bearer " + kOld, "");
  CHECK(d.result == R::Ok);
  CHECK(d.credential_id == "old");
  d = authenticate(http, "bearer  " + kNew, "");
  CHECK(d.result == R::Ok);
  CHECK(d.credential_id == "new");
  d = authenticate(http, "", kNew);
  CHECK(d.result == R::Ok);
  CHECK(d.credential_id == "new");
  CHECK(authenticate(http, "Bearer " + kOld + "x", "").result == R::Invalid);
  CHECK(authenticate(http, "", "nope").result == R::Invalid);
  CHECK(authenticate(http, "Token " + kOld, "").result == R::Invalid);
  // "runner:correct horse battery"
  d = authenticate(http, "Basic cnVubmVyOmNvcnJlY3QgaG9yc2UgYmF0dGVyeQ==", "");
  CHECK(d.result == R::Ok);
  CHECK(d.credential_id == "runner");
  // "runner:wrong"
  CHECK(authenticate(http, "Basic cnVubmVyOndyb25n", "").result == R::Invalid);
  CHECK(authenticate(http, "Basic !!!", "").result == R::Invalid);
  CHECK(authenticate(http, "Basic", "").result == R::Invalid);
}

TEST_CASE("AuthFailureLimiter blocks a peer for the rest of its window") {
  AuthFailureLimiter limiter(3, 1000);
  CHECK_FALSE(limiter.blocked("10.0.0.1", 0));
  CHECK(limiter.recordFailure("10.0.0.1", 0) == 1);
  CHECK(limiter.recordFailure("10.0.0.1", 10) == 2);
  CHECK_FALSE(limiter.blocked("10.0.0.1", 20));
  CHECK(limiter.recordFailure("10.0.0.1", 30) == 3);
  CHECK(limiter.blocked("10.0.0.1", 40));
  CHECK_FALSE(limiter.blocked("10.0.0.2", 40));
  CHECK(limiter.blocked("10.0.0.1", 999));
  CHECK_FALSE(limiter.blocked("10.0.0.1", 1000));
  CHECK(limiter.recordFailure("10.0.0.1", 1000) == 1); // a new window
}

TEST_CASE("AuthFailureLimiter memory is bounded") {
  AuthFailureLimiter limiter(3, 1000);
  for (size_t i = 0; i < 3 * AuthFailureLimiter::kMaxTrackedPeers; ++i) {
    limiter.recordFailure("peer" + std::to_string(i), 5);
  }
  CHECK(limiter.trackedPeers() <= AuthFailureLimiter::kMaxTrackedPeers);
}
