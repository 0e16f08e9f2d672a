#pragma once

// The RFC 8259 number grammar, checked on a number's bytes as written. Both walks need it: On
// Demand and simdjson's structural index do not check numbers nobody converts, and converting
// would reject valid JSON such as 1e400 that must pass byte-exact.

#include <string_view>

namespace scrub::filters {

// Pointer steps without a bound check per digit: every number of every line passes here.
inline bool isJsonNumber(std::string_view s) {
  const char* p = s.data();
  const char* const end = p + s.size();
  auto digits = [&] {
    const char* const start = p;
    while (p != end && static_cast<unsigned char>(*p - '0') < 10) {
      ++p;
    }
    return p != start;
  };
  if (p != end && *p == '-') {
    ++p;
  }
  if (p == end) {
    return false;
  }
  if (*p == '0') {
    ++p;
  } else if (!digits()) {
    return false;
  }
  if (p != end && *p == '.') {
    ++p;
    if (!digits()) {
      return false;
    }
  }
  if (p != end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p != end && (*p == '+' || *p == '-')) {
      ++p;
    }
    if (!digits()) {
      return false;
    }
  }
  return p == end;
}

} // namespace scrub::filters
