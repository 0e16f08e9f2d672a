#pragma once

// Whether a string value is worth decoding as JSON inside the string (`"{\"_id\":1}"`): it starts
// with `{` or `[` and ends with the matching bracket, ignoring white space around it. Cheap and
// conservative; the decode that follows decides.

#include <string_view>

namespace scrub::filters {

inline bool looksLikeJsonContainer(std::string_view text) {
  size_t b = 0;
  size_t e = text.size();
  auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (b < e && space(text[b])) {
    ++b;
  }
  while (e > b && space(text[e - 1])) {
    --e;
  }
  if (e - b < 2) {
    return false;
  }
  return (text[b] == '{' && text[e - 1] == '}') || (text[b] == '[' && text[e - 1] == ']');
}

} // namespace scrub::filters
