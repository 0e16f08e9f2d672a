#pragma once

// Value contracts that are common enough to deserve a path around RE2 on every line: a choice
// of literals (`(debug|info|warn)`) and a run of digits (`[0-9]{19}`, `[1-9][0-9]{0,18}`).
// Recognised conservatively from the pattern text at load time; anything else keeps using RE2.
// A FastContract gives exactly RE2::FullMatch's answer for the patterns it accepts (a test
// checks this against RE2 on samples).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace scrub::rules {

class FastContract {
public:
  // nullopt when the pattern is not one of the simple shapes.
  static std::optional<FastContract> recognise(std::string_view pattern);

  bool matches(std::string_view text) const;

private:
  enum class Kind { Literals, Digits } kind_ = Kind::Literals;
  std::vector<std::string> literals_;
  bool first_nonzero_ = false; // Digits: first digit in 1-9 (then min_/max_ count the rest)
  size_t min_ = 0;
  size_t max_ = 0;
};

} // namespace scrub::rules
