#include <catch2/catch.hpp>
#include <re2/re2.h>

#include "rules/fast_contract.h"
#include "rules/regex_sampler.h"
#include "rules/rule_loader.h"

using scrub::rules::FastContract;

TEST_CASE("fast contracts recognise only the simple shapes", "[rules][fast-contract]") {
  CHECK(FastContract::recognise("[0-9]{19}"));
  CHECK(FastContract::recognise("^[1-9][0-9]{0,18}$"));
  CHECK(FastContract::recognise("\\d{3,5}"));
  CHECK(FastContract::recognise("(debug|info|warn)"));
  CHECK(FastContract::recognise("R/T|JOB|ADA"));
  CHECK(FastContract::recognise("(?:a\\.b|c)"));
  // Beyond literals and digit runs, the SimplePattern subset (rules/simple_pattern.h).
  CHECK(FastContract::recognise("[0-9]+"));
  CHECK(FastContract::recognise("(a|b)(c|d)"));
  CHECK_FALSE(FastContract::recognise("(a|b)+"));
  CHECK_FALSE(FastContract::recognise("a.b"));
  CHECK_FALSE(FastContract::recognise("(?i)info"));
  CHECK_FALSE(FastContract::recognise("[0-9]{5,2}"));
  CHECK_FALSE(FastContract::recognise("[0-9]{05}")); // RE2 reads it as text: a digit, then "{05}"
  CHECK_FALSE(FastContract::recognise("[a-z]*z"));
}

TEST_CASE("fast contracts agree with RE2 full match", "[rules][fast-contract]") {
  const std::vector<std::string> patterns = {"[0-9]{19}",       "[1-9][0-9]{0,18}",
                                             "^\\d{3,5}$",      "(debug|info|warn|)",
                                             "R/T|JOB|ADA|CLI", "(?:a\\.b|c\\-d)"};
  // Candidates: samples of each pattern (should match) and of look-alikes (mostly should not).
  std::vector<std::string> candidates = {"",
                                         "0",
                                         "00",
                                         "10",
                                         "info ",
                                         "INFO",
                                         "a.b",
                                         "axb",
                                         "c-d",
                                         "R/T",
                                         "R/TT",
                                         "12345",
                                         "123456",
                                         "1234567890123456789",
                                         "0234567890123456789"};
  for (const auto& source : {"[0-9]{0,21}", "[1-9a-z./-]{0,4}", "(debug|info|warn|R/T|JOB|a.b)"}) {
    auto samples = scrub::rules::sampleRegex(source, 300, 7, 20);
    REQUIRE(samples);
    candidates.insert(candidates.end(), samples->begin(), samples->end());
  }
  for (const auto& pattern : patterns) {
    const auto fast = FastContract::recognise(pattern);
    REQUIRE(fast);
    const RE2 re(pattern);
    REQUIRE(re.ok());
    size_t matched = 0;
    for (const auto& text : candidates) {
      INFO(pattern << " on '" << text << "'");
      const bool expected = RE2::FullMatch(text, re);
      CHECK(fast->matches(text) == expected);
      matched += expected ? 1 : 0;
    }
    CHECK(matched > 0);
  }
}

TEST_CASE("digit contracts catch one wrong byte anywhere, at every length",
          "[rules][fast-contract]") {
  // The digit check reads eight bytes at a time with an overlapping last word: every length
  // from 1 to 20 and every position must still see a byte just outside '0'-'9' (or far from it).
  const std::vector<std::string> patterns = {"[0-9]{1,20}", "[1-9][0-9]{0,18}", "[0-9]{19}"};
  const std::string near_misses{'/', ':', 'a', ' ', '\0', '\x7f', '\xc9', '\xfa', '\xff'};
  for (const auto& pattern : patterns) {
    const auto fast = FastContract::recognise(pattern);
    REQUIRE(fast);
    const RE2 re(pattern, RE2::Latin1);
    REQUIRE(re.ok());
    for (size_t length = 1; length <= 20; ++length) {
      std::string digits;
      for (size_t i = 0; i < length; ++i) {
        digits.push_back(static_cast<char>('1' + i % 9));
      }
      INFO(pattern << " on " << length << " digits");
      CHECK(fast->matches(digits) == RE2::FullMatch(digits, re));
      for (size_t at = 0; at < length; ++at) {
        for (char bad : near_misses) {
          std::string text = digits;
          text[at] = bad;
          INFO("byte " << static_cast<int>(static_cast<unsigned char>(bad)) << " at " << at);
          CHECK(fast->matches(text) == RE2::FullMatch(text, re));
        }
      }
    }
  }
}

TEST_CASE("contract ranges never reject a text the contract matches", "[rules][fast-contract]") {
  // Every shipped pack's contracts: samples of each must still pass contractHolds.
  for (const char* pack : {"openfn-retry-ids", "kobo-redact"}) {
    auto loaded = scrub::rules::loadRules({pack});
    REQUIRE(loaded.ok());
    for (const auto& keep : loaded->rules->keep) {
      if (!keep.value) {
        continue;
      }
      auto samples = scrub::rules::sampleRegex(keep.value->pattern(), 300, 11);
      REQUIRE(samples);
      for (const auto& sample : *samples) {
        if (RE2::FullMatch(sample, *keep.value)) {
          INFO(keep.name << " on '" << sample << "'");
          CHECK(keep.contractHolds(sample));
        }
      }
      CHECK_FALSE(keep.contractHolds("Creating case for Amra Begić"));
    }
  }
}
