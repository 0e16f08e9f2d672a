#pragma once

// Zeroes memory that held payload before it is reused or freed. explicit_bzero is not elided by
// the optimiser the way a memset of memory about to die may be.

#include <cstring>
#include <string>

namespace scrub::proxy {

inline void wipe(void* data, size_t n) {
  if (n > 0) {
    explicit_bzero(data, n);
  }
}

// Zeroes the string's bytes and empties it; its capacity stays (for reuse).
inline void wipe(std::string& text) {
  wipe(text.data(), text.size());
  text.clear();
}

} // namespace scrub::proxy
