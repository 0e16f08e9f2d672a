#include <catch2/catch.hpp>
#include <re2/re2.h>

#include "rules/regex_sampler.h"
#include "rules/rule_loader.h"
#include "rules/simple_pattern.h"

using scrub::rules::SimplePattern;

namespace {

// Texts near the pattern's language: its own samples, and each of them with one byte replaced,
// removed or added at every position, cut short and run long. A one-pass matcher that chose
// wrong at some point fails on one of these.
std::vector<std::string> nearTexts(const std::string& pattern, uint64_t seed) {
  std::vector<std::string> texts = {"", "0", "a", "-", " "};
  auto samples = scrub::rules::sampleRegex(pattern, 40, seed);
  REQUIRE(samples);
  const std::string replacements = std::string("0959az-.:ZT+ ") + '\xc3' + '\x7f';
  for (const std::string& sample : *samples) {
    texts.push_back(sample);
    for (size_t at = 0; at <= sample.size(); ++at) {
      if (at < sample.size()) {
        texts.push_back(sample.substr(0, at) + sample.substr(at + 1));
        for (char c : replacements) {
          std::string replaced = sample;
          replaced[at] = c;
          texts.push_back(replaced);
        }
      }
      for (char c : {'0', 'a', '.', 's'}) {
        texts.push_back(sample.substr(0, at) + c + sample.substr(at));
      }
    }
    texts.push_back(sample + sample);
  }
  return texts;
}

void checkAgreesWithRe2(const std::string& pattern, uint64_t seed) {
  const auto simple = SimplePattern::compile(pattern);
  REQUIRE(simple);
  const RE2 re(pattern);
  REQUIRE(re.ok());
  size_t matched = 0;
  for (const std::string& text : nearTexts(pattern, seed)) {
    const bool expected = RE2::FullMatch(text, re);
    INFO(pattern << " on '" << text << "'");
    CHECK(simple->fullMatch(text) == expected);
    matched += expected ? 1 : 0;
  }
  CHECK(matched > 0);
}

} // namespace

TEST_CASE("simple patterns take the unambiguous subset and refuse the rest",
          "[rules][simple-pattern]") {
  for (const char* accepted :
       {"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]"
        "{2})"
        "|[0-9]{10,19}",
        "(Starting operation [0-9]{1,6}|Finished in [0-9]{1,9}(\\.[0-9]{1,3})?(ms|s))", "^ab?c$",
        "[0-9]+", "x*y", "(a|b)(c|d)", "(?:a|)b", "[a-]", "[-a]", "\\d{2,}", "a{0,3}b",
        "(a(b|c)?)?d", "(x|y)|x", "uuid:[0-9a-f]{8}"}) {
    INFO(accepted);
    CHECK(SimplePattern::compile(accepted));
  }
  for (const char* refused : {
           "a.b",      // any character: UTF-8 semantics
           "[^a]",     // negated: matches non-ASCII
           "(?i)info", // flags
           "\\w+",     // Perl classes other than \d
           "[a-z]*z",  // the run could take what follows
           "[0-9]{1,3}[0-9]",
           "x(a|ab)", // alternatives starting alike
           "(ab)?a",  // optional part could start what follows
           "(ab)+",   // repeated group
           "a{2}{3}",
           "a*?", // stacked and lazy repetition
           "a{,3}",
           "a{1001}",
           "a{05}", // RE2 reads a count with a leading zero as text
           "a{1,05}",
           "{",
           "}",
           "]",
           "[]a]",
           "[[:alpha:]]",
           "a$b",
           "a^",
           "é",
           "(a",
           "a)",
           "\\1",
           "\\b",
       }) {
    INFO(refused);
    CHECK_FALSE(SimplePattern::compile(refused));
  }
  // Top-level alternatives are tried one by one, so they may start alike.
  const auto overlapping = SimplePattern::compile("(a|ab)");
  REQUIRE(overlapping);
  CHECK(overlapping->fullMatch("ab"));
  // The empty pattern is valid RE2 and matches only "".
  const auto empty = SimplePattern::compile("");
  REQUIRE(empty);
  CHECK(empty->fullMatch(""));
  CHECK_FALSE(empty->fullMatch("a"));
}

TEST_CASE("simple patterns agree with RE2 full match near their language",
          "[rules][simple-pattern]") {
  uint64_t seed = 1;
  for (const char* pattern :
       {"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]"
        "{2})"
        "|[0-9]{10,19}",
        "(Operation [0-9]{1,6} complete in [0-9]{1,9}(\\.[0-9]{1,3})?(ms|s)|Run complete with "
        "status: (success|fail|crash))",
        "^ab?c$", "[0-9]+", "x*y", "(a|b)(c|d)", "(?:a|)b", "[a-]z", "\\d{2,}", "a{0,3}b",
        "(a(b|c)?)?d", "(x|y)|x", "[A-Za-z0-9_]{1,40}", "(a|b?)c", "(|a)b", "a?b?c?"}) {
    checkAgreesWithRe2(pattern, ++seed);
  }
}

TEST_CASE("the checks before matching never turn a match away", "[rules][simple-pattern]") {
  // Each top-level alternative is skipped when the text cannot start it or is shorter than its
  // shortest match; these put nullable, short and long alternatives side by side.
  const auto mixed = SimplePattern::compile("[0-9]{3}-x|a?b?|Zq{2,}|(c|d)e");
  REQUIRE(mixed);
  for (const char* text : {"", "a", "b", "ab", "123-x", "Zqq", "ce", "de"}) {
    INFO(text);
    CHECK(mixed->fullMatch(text));
  }
  for (const char* text : {"12-x", "123-", "Zq", "e", "c", "ba", "x", "aab"}) {
    INFO(text);
    CHECK_FALSE(mixed->fullMatch(text));
  }
  uint64_t seed = 100;
  for (const char* pattern : {"[0-9]{3}-x|a?b?|Zq{2,}|(c|d)e", "(|abc)", "x{2}|y", "abc|a*",
                              "(Starting [0-9]{1,6}|Finished in [0-9]s|Error)"}) {
    checkAgreesWithRe2(pattern, ++seed);
  }
}

TEST_CASE("every contract of the shipped packs runs without RE2 and agrees with it",
          "[rules][simple-pattern]") {
  for (const char* pack : {"openfn-retry-ids", "kobo-redact"}) {
    auto loaded = scrub::rules::loadRules({pack});
    REQUIRE(loaded.ok());
    for (const auto& keep : loaded->rules->keep) {
      if (!keep.value) {
        continue;
      }
      INFO(keep.name);
      CHECK(keep.fast);
      if (SimplePattern::compile(keep.value->pattern())) {
        checkAgreesWithRe2(keep.value->pattern(), 99);
      }
    }
  }
}
