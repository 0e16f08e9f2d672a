#pragma once

// String equality for the short keys and literals of the hot path (`_id`, `level`, `info`): two
// overlapping word loads instead of a call to memcmp, which costs more than the compare itself
// at these sizes. Longer strings still go to memcmp.

#include <cstdint>
#include <cstring>
#include <string_view>

namespace scrub::rules {

// Unaligned word loads from byte strings (memcpy of a fixed size compiles to one move).
inline uint64_t loadWord64(const char* at) {
  uint64_t word;
  std::memcpy(&word, at, sizeof word);
  return word;
}
inline uint32_t loadWord32(const char* at) {
  uint32_t word;
  std::memcpy(&word, at, sizeof word);
  return word;
}

// Bit `size` (63 for anything longer) of a mask of string lengths: a set of keys or literals
// keeps one, and most strings are ruled out by their length alone.
inline uint64_t lengthBit(size_t size) {
  return uint64_t{1} << (size < 63 ? size : 63);
}

inline bool equalBytes(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) {
    return false;
  }
  const char* p = a.data();
  const char* q = b.data();
  if (n >= 8) {
    if (n > 16) {
      return std::memcmp(p, q, n) == 0;
    }
    return loadWord64(p) == loadWord64(q) && loadWord64(p + n - 8) == loadWord64(q + n - 8);
  }
  if (n >= 4) {
    return loadWord32(p) == loadWord32(q) && loadWord32(p + n - 4) == loadWord32(q + n - 4);
  }
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != q[i]) {
      return false;
    }
  }
  return true;
}

} // namespace scrub::rules
