#pragma once

// String equality for the short keys and literals of the hot path (`_id`, `level`, `info`): two
// overlapping word loads instead of a call to memcmp, which costs more than the compare itself
// at these sizes. Longer strings still go to memcmp.

#include <cstdint>
#include <cstring>
#include <string_view>

namespace scrub::rules {

inline bool equalBytes(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) {
    return false;
  }
  const char* p = a.data();
  const char* q = b.data();
  auto load64 = [](const char* at) {
    uint64_t word;
    std::memcpy(&word, at, sizeof word);
    return word;
  };
  auto load32 = [](const char* at) {
    uint32_t word;
    std::memcpy(&word, at, sizeof word);
    return word;
  };
  if (n >= 8) {
    if (n > 16) {
      return std::memcmp(p, q, n) == 0;
    }
    return load64(p) == load64(q) && load64(p + n - 8) == load64(q + n - 8);
  }
  if (n >= 4) {
    return load32(p) == load32(q) && load32(p + n - 4) == load32(q + n - 4);
  }
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != q[i]) {
      return false;
    }
  }
  return true;
}

} // namespace scrub::rules
