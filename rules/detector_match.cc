#include "rules/detector_match.h"

namespace scrub::rules {

bool findDetectorSpans(const Detector& detector, int detector_index, std::string_view text,
                       std::vector<MatchSpan>& spans) {
  if (!detector.pattern) {
    return false;
  }
  bool found = false;
  re2::StringPiece input(text.data(), text.size());
  re2::StringPiece match;
  size_t start = 0;
  while (start <= text.size() &&
         detector.pattern->Match(input, start, text.size(), RE2::UNANCHORED, &match, 1)) {
    const size_t begin = static_cast<size_t>(match.data() - text.data());
    const size_t end = begin + match.size();
    if (detector.check == Validator::None ||
        runValidator(detector.check, std::string_view(match.data(), match.size()))) {
      spans.push_back(MatchSpan{begin, end, detector_index});
      found = true;
    }
    // An empty match would loop forever; a rejected one may hide a valid one starting inside it
    // (a 14-digit run that holds a valid 13-digit JMBG), so step one byte past its start.
    start = (end > begin && detector.check == Validator::None) ? end : begin + 1;
  }
  return found;
}

} // namespace scrub::rules
