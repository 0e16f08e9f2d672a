#pragma once

// The RFC 8259 number grammar, checked on a number's bytes as written. Both walks need it: On
// Demand and simdjson's structural index do not check numbers nobody converts, and converting
// would reject valid JSON such as 1e400 that must pass byte-exact.

#include <string_view>

namespace scrub::filters {

inline bool isJsonNumber(std::string_view s) {
  size_t i = 0;
  auto digit = [&](size_t at) { return at < s.size() && s[at] >= '0' && s[at] <= '9'; };
  if (i < s.size() && s[i] == '-') {
    ++i;
  }
  if (!digit(i)) {
    return false;
  }
  if (s[i] == '0') {
    ++i;
  } else {
    while (digit(i)) {
      ++i;
    }
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digit(i)) {
      return false;
    }
    while (digit(i)) {
      ++i;
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    if (!digit(i)) {
      return false;
    }
    while (digit(i)) {
      ++i;
    }
  }
  return i == s.size();
}

} // namespace scrub::filters
