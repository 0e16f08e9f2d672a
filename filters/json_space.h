#pragma once

// JSON's white space (RFC 8259: space, tab, line feed, carriage return), which both walks trim
// from the end of a token and look past inside strings that may hold JSON.

#include <cstdint>
#include <string_view>

namespace scrub::filters {

// One compare and one bit test instead of four compares: the fast path runs this at the end of
// every token.
inline bool isJsonSpace(char c) {
  constexpr uint64_t kSpaces = (1ull << ' ') | (1ull << '\n') | (1ull << '\r') | (1ull << '\t');
  const auto byte = static_cast<unsigned char>(c);
  return byte <= ' ' && ((kSpaces >> byte) & 1) != 0;
}

// A token as On Demand hands it over (raw_json_token runs up to the next structural), without
// the white space after it.
inline std::string_view trimTrailingJsonSpace(std::string_view raw) {
  while (!raw.empty() && isJsonSpace(raw.back())) {
    raw.remove_suffix(1);
  }
  return raw;
}

} // namespace scrub::filters
