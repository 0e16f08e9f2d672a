#pragma once

// Where a deny detector matches inside a text: each match of its pattern that its validator
// (if any) accepts. Shared by the filter engine and the lint so both mean the same thing by
// "the detector matches".

#include <string_view>
#include <vector>

#include "rules/rule_set.h"

namespace scrub::rules {

struct MatchSpan {
  size_t begin = 0;
  size_t end = 0; // one past the last byte
  int detector = 0;
};

// Appends the validated matches of `detector` (index `detector_index`) in `text` to `spans`.
// Returns true when any was found. No allocation when `spans` has capacity.
bool findDetectorSpans(const Detector& detector, int detector_index, std::string_view text,
                       std::vector<MatchSpan>& spans);

} // namespace scrub::rules
