#pragma once

// Value contracts checked without RE2, whose fixed cost per call (70-90 ns) was most of the
// allowlist's contract time: a choice of literals (`(debug|info|warn)`), a run of digits
// (`[0-9]{19}`, `[1-9][0-9]{0,18}`), and else any pattern SimplePattern takes (uuids,
// timestamps, message templates). Recognised conservatively from the pattern text at load time;
// anything else keeps using RE2. A FastContract gives exactly RE2::FullMatch's answer for the
// patterns it accepts (tests check this against RE2 on samples; a fuzz target on generated
// patterns).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/simple_pattern.h"

namespace scrub::rules {

class FastContract {
public:
  // nullopt when the pattern is not one of the simple shapes.
  static std::optional<FastContract> recognise(std::string_view pattern);

  bool matches(std::string_view text) const;

private:
  static std::optional<FastContract> recogniseLiterals(std::string_view pattern);

  enum class Kind { Literals, Digits, Simple } kind_ = Kind::Literals;
  std::vector<std::string> literals_;
  uint64_t literal_lengths_ = 0; // Literals: bit n set when some literal is n bytes (63: longer)
  std::optional<SimplePattern> simple_;
  bool first_nonzero_ = false; // Digits: first digit in 1-9 (then min_/max_ count the rest)
  size_t min_ = 0;
  size_t max_ = 0;
};

} // namespace scrub::rules
