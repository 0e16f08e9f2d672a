#pragma once

// Whether a string value is worth decoding as JSON inside the string (`"{\"_id\":1}"`): it starts
// with `{` or `[` and ends with the matching bracket, ignoring white space around it. Cheap and
// conservative; the decode that follows decides.

#include <string_view>

#include "filters/json_space.h"

namespace scrub::filters {

inline bool looksLikeJsonContainer(std::string_view text) {
  size_t b = 0;
  size_t e = text.size();
  while (b < e && isJsonSpace(text[b])) {
    ++b;
  }
  while (e > b && isJsonSpace(text[e - 1])) {
    --e;
  }
  if (e - b < 2) {
    return false;
  }
  return (text[b] == '{' && text[e - 1] == '}') || (text[b] == '[' && text[e - 1] == ']');
}

} // namespace scrub::filters
