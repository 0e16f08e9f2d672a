#pragma once

// Why a line was not forwarded. Every dropped line has exactly one reason; the names are metric
// labels and report keys, so they never change once shipped.

#include <array>
#include <cstdint>
#include <string_view>

namespace scrub::filters {

enum class DropReason : uint8_t {
  None = 0,    // forwarded
  InvalidJson, // not JSON, or trailing bytes after the object
  InvalidUtf8,
  TooLong,    // over max_line_bytes
  TooDeep,    // nesting over max_depth
  NotObject,  // valid JSON whose top-level value is not an object
  Empty,      // nothing left but the envelope (drop_empty)
  OverBudget, // more detector or decoding work than a line may cost
  Truncated,  // a partial line: the connection closed before its newline (counted by the framer)
};

inline constexpr size_t kDropReasonCount = 9;

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonNames = {
    "none",       "invalid_json", "invalid_utf8", "too_long", "too_deep",
    "not_object", "empty",        "over_budget",  "truncated"};

inline std::string_view dropReasonName(DropReason reason) {
  return kDropReasonNames[static_cast<size_t>(reason)];
}

} // namespace scrub::filters
