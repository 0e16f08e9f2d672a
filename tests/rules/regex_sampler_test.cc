#include "rules/regex_sampler.h"

#include <catch2/catch.hpp>

#include <re2/re2.h>

#include <set>
#include <string>
#include <vector>

namespace scrub::rules {
namespace {

std::vector<std::string> samplesOf(std::string_view pattern, size_t count = 300,
                                   uint64_t seed = 7) {
  auto samples = sampleRegex(pattern, count, seed);
  INFO(pattern);
  REQUIRE(samples.has_value());
  REQUIRE(samples->size() == count);
  return *samples;
}

// Every sample full-matches the pattern under RE2, and the samples are not all the same.
void checkAllMatch(const std::string& pattern, size_t min_distinct) {
  const RE2 re(pattern);
  REQUIRE(re.ok());
  const auto samples = samplesOf(pattern);
  std::set<std::string> distinct;
  for (const auto& sample : samples) {
    INFO("pattern " << pattern << " sample '" << sample << "'");
    CHECK(RE2::FullMatch(sample, re));
    distinct.insert(sample);
  }
  INFO(pattern);
  CHECK(distinct.size() >= min_distinct);
}

TEST_CASE("sampler: every sample full-matches its pattern", "[rules][sampler]") {
  checkAllMatch("[0-9]{1,19}", 100);
  checkAllMatch("(a|bc)+x?", 10);
  checkAllMatch(R"(\d{3}-\d{2})", 100);
  checkAllMatch("[^a-z]{2}", 100);
}

TEST_CASE("sampler: the constructs rule authors write", "[rules][sampler]") {
  for (const std::string pattern : {
           "^[1-9][0-9]{0,18}$",
           "(trace|debug|info|warn|error)",
           "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
           R"(\b[0-9]{13}\b)",
           R"(\b0[3-6][0-9][ /-]?[0-9]{3}[ /-]?[0-9]{3,4}\b)",
           R"((?i)[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,})",
           R"((?:ab)*c+?d??)",
           R"((?P<year>[0-9]{4})-[0-9]{2})",
           R"(\w+\s\W\S\D)",
           R"([\d.\-]{3,5})",
           R"(a.c)",
           R"([]a]x)",
           R"(\.\+\*\?\(\)\[\]\{\}\|\^\$\\)",
           "(a|)b",
       }) {
    checkAllMatch(pattern, 1);
  }
}

TEST_CASE("sampler: a flag group keeps its contents", "[rules][sampler]") {
  // `(?i:...)` is a group with flags, not a bare flag setting like `(?i)`: what is inside it
  // must still be drawn.
  checkAllMatch("(?i:ab)c", 1);
  checkAllMatch("x(?i:a|bc)+y", 5);
  checkAllMatch("(?s:.)z", 10);
  for (const auto& sample : samplesOf("(?i:ab)c", 20)) {
    CHECK(sample.size() == 3);
  }
}

TEST_CASE("sampler: repetition bounds are kept", "[rules][sampler]") {
  std::set<size_t> lengths;
  for (const auto& sample : samplesOf("[0-9]{1,19}", 500)) {
    lengths.insert(sample.size());
  }
  // The ends of the range are favoured, and everything drawn lies within it.
  CHECK(lengths.count(1) == 1);
  CHECK(lengths.count(19) == 1);
  CHECK(*lengths.begin() >= 1);
  CHECK(*lengths.rbegin() <= 19);

  // Unbounded repetition draws at most max_repeat extra copies.
  auto bounded = sampleRegex("x+", 200, 3, 2);
  REQUIRE(bounded.has_value());
  std::set<size_t> x_lengths;
  for (const auto& sample : *bounded) {
    x_lengths.insert(sample.size());
  }
  CHECK(x_lengths == std::set<size_t>{1, 2, 3});
}

TEST_CASE("sampler: unsupported constructs give nullopt", "[rules][sampler]") {
  CHECK_FALSE(sampleRegex(R"(\p{L}+)", 10, 1).has_value());
  CHECK_FALSE(sampleRegex(R"(\pN)", 10, 1).has_value());
  CHECK_FALSE(sampleRegex(R"((a)\1)", 10, 1).has_value());
  CHECK_FALSE(sampleRegex(R"(\x41)", 10, 1).has_value());
  CHECK_FALSE(sampleRegex("[[:alpha:]]", 10, 1).has_value());
  // Malformed input is not guessed at either.
  CHECK_FALSE(sampleRegex("(ab", 10, 1).has_value());
  CHECK_FALSE(sampleRegex("ab)", 10, 1).has_value());
  CHECK_FALSE(sampleRegex("[ab", 10, 1).has_value());
  CHECK_FALSE(sampleRegex("a{2", 10, 1).has_value());
  CHECK_FALSE(sampleRegex("*a", 10, 1).has_value());
}

TEST_CASE("sampler: the same seed gives the same samples", "[rules][sampler]") {
  for (const std::string pattern : {"[0-9]{1,19}", "(a|bc)+x?", R"(\d{3}-\d{2})"}) {
    INFO(pattern);
    const auto first = sampleRegex(pattern, 50, 42);
    const auto second = sampleRegex(pattern, 50, 42);
    REQUIRE(first.has_value());
    REQUIRE(second.has_value());
    CHECK(*first == *second);
    // A prefix of a longer run from the same seed is the same too.
    const auto longer = sampleRegex(pattern, 80, 42);
    REQUIRE(longer.has_value());
    CHECK(std::vector<std::string>(longer->begin(), longer->begin() + 50) == *first);
  }
  const auto a = sampleRegex("[0-9]{1,19}", 50, 1);
  const auto b = sampleRegex("[0-9]{1,19}", 50, 2);
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(*a != *b);
}

TEST_CASE("sampler: nested repeats are cut off, not drawn to a gigabyte", "[rules][sampler]") {
  // Found by the rule_loader fuzz target: a contract like this stalled the lint for minutes.
  const auto huge = sampleRegex("((a{1000}){1000}){1000}", 5, 1);
  REQUIRE(huge.has_value());
  CHECK(huge->empty()); // every draw is over 4 KiB: left out
  const auto mixed = sampleRegex("(x|(b{100}){100})", 40, 1);
  REQUIRE(mixed.has_value());
  CHECK_FALSE(mixed->empty());
  for (const auto& sample : *mixed) {
    CHECK(sample == "x");
  }
}

TEST_CASE("sampler: zero samples", "[rules][sampler]") {
  const auto none = sampleRegex("[0-9]+", 0, 1);
  REQUIRE(none.has_value());
  CHECK(none->empty());
}

} // namespace
} // namespace scrub::rules
