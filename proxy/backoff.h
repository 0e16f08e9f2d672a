#pragma once

// Reconnect delays: exponential from `min` to `max`, each scaled by a random factor in
// [0.5, 1.0] so that many workers (or many proxies) that lost one sink together do not come back
// in lock step. Pure; deterministic for a given seed.

#include <chrono>
#include <cstdint>

namespace scrub::proxy {

class Backoff {
public:
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, uint64_t seed);

  // The delay before the next attempt; each call doubles the base, up to max.
  std::chrono::milliseconds next();
  // After a success: the next delay starts again from min.
  void reset() { attempts_ = 0; }
  unsigned attempts() const { return attempts_; }

private:
  uint64_t random();

  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  uint64_t state_;
  unsigned attempts_ = 0;
};

} // namespace scrub::proxy
