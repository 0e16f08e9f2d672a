#include "proxy/backoff.h"

#include <algorithm>

namespace scrub::proxy {

Backoff::Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, uint64_t seed)
    : min_(std::max<std::chrono::milliseconds>(min, std::chrono::milliseconds(1))),
      max_(std::max(max, min_)), state_(seed) {}

uint64_t Backoff::random() {
  // splitmix64: small, fast, and good enough to spread retries.
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::chrono::milliseconds Backoff::next() {
  const int64_t min = min_.count();
  const int64_t max = max_.count();
  int64_t base = min;
  for (unsigned i = 0; i < attempts_ && base < max; ++i) {
    base *= 2;
  }
  base = std::min(base, max);
  ++attempts_;
  // A factor in [0.5, 1.0], in 1/1024 steps.
  const int64_t factor = 512 + static_cast<int64_t>(random() % 513);
  return std::chrono::milliseconds(std::max<int64_t>(1, base * factor / 1024));
}

} // namespace scrub::proxy
