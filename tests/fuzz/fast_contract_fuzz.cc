// Fuzz target: rules/fast_contract (literal choices, digit runs and rules/simple_pattern), the
// contract checks that stand in for RE2. Input: a pattern, then texts, one per line. For every
// pattern both RE2 and FastContract accept, each
// text and texts drawn from the pattern itself (with one byte changed) must get RE2::FullMatch's
// answer: a matcher that said yes where RE2 says no would let a value through a contract.

#include <re2/re2.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rules/fast_contract.h"
#include "rules/regex_sampler.h"
#include "rules/rule_set.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string pattern(input.substr(0, newline));
  const auto fast = scrub::rules::FastContract::recognise(pattern);
  if (!fast) {
    return 0;
  }
  RE2::Options options; // as the rule loader compiles contracts
  options.set_max_mem(scrub::rules::kRegexMaxMem);
  options.set_log_errors(false);
  const RE2 re(pattern, options);
  if (!re.ok()) {
    return 0; // the loader refuses such a contract before anything else sees it
  }
  std::vector<std::string> texts;
  if (newline != std::string_view::npos) {
    std::string_view rest = input.substr(newline + 1);
    while (!rest.empty()) {
      const size_t end = rest.find('\n');
      texts.emplace_back(rest.substr(0, end));
      rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    }
  }
  if (auto samples = scrub::rules::sampleRegex(pattern, 8, size)) {
    for (const std::string& sample : *samples) {
      texts.push_back(sample);
      for (size_t at = 0; at < sample.size(); ++at) {
        std::string changed = sample;
        changed[at] = static_cast<char>(data[at % size]);
        texts.push_back(std::move(changed));
        texts.push_back(sample.substr(0, at));
      }
    }
  }
  for (const std::string& text : texts) {
    SCRUB_FUZZ_CHECK(fast->matches(text) == RE2::FullMatch(text, re),
                     "FastContract and RE2 disagree on a full match");
  }
  return 0;
}
