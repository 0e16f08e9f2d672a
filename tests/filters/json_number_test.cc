// isJsonNumber is the only check a number gets on both walks (neither converts numbers it does
// not have to), so it must be RFC 8259's grammar exactly: compared here with a plain reading of
// the grammar on every string of up to six bytes over the bytes that matter.

#include <catch2/catch.hpp>

#include <string>

#include "filters/json_number.h"

namespace {

using scrub::filters::isJsonNumber;

// number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT ); frac = "." 1*DIGIT;
// exp = ( "e" / "E" ) [ "-" / "+" ] 1*DIGIT
bool byTheGrammar(const std::string& s) {
  size_t i = 0;
  auto digit = [&](size_t at) { return at < s.size() && s[at] >= '0' && s[at] <= '9'; };
  if (i < s.size() && s[i] == '-') {
    ++i;
  }
  if (!digit(i)) {
    return false;
  }
  if (s[i++] != '0') {
    while (digit(i)) {
      ++i;
    }
  }
  if (i < s.size() && s[i] == '.') {
    if (!digit(++i)) {
      return false;
    }
    while (digit(i)) {
      ++i;
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    if (!digit(i)) {
      return false;
    }
    while (digit(i)) {
      ++i;
    }
  }
  return i == s.size();
}

} // namespace

TEST_CASE("isJsonNumber: the RFC 8259 grammar, no more and no less", "[filters][json-number]") {
  for (const char* valid : {"0", "-0", "7", "-12", "0.5", "1.0", "1e400", "1E+2", "-0.0e-0",
                            "123456789012345678901234567890", "9.99e99"}) {
    INFO(valid);
    CHECK(isJsonNumber(valid));
  }
  for (const char* invalid : {"", "-", "01", "-01", "1.", ".5", "1e", "1e+", "+1", "0x10", "1.e5",
                              "--1", "1-", "1e5.0", "NaN", "Infinity", "1 ", " 1", "1,"}) {
    INFO(invalid);
    CHECK_FALSE(isJsonNumber(invalid));
  }
  const std::string alphabet = "-+.eE019x";
  size_t strings = 0;
  size_t differ = 0;
  for (size_t length = 0; length <= 6; ++length) {
    size_t total = 1;
    for (size_t k = 0; k < length; ++k) {
      total *= alphabet.size();
    }
    for (size_t code = 0; code < total; ++code) {
      std::string s;
      for (size_t v = code, k = 0; k < length; ++k, v /= alphabet.size()) {
        s += alphabet[v % alphabet.size()];
      }
      ++strings;
      if (isJsonNumber(s) != byTheGrammar(s)) {
        ++differ;
        UNSCOPED_INFO("differs on " << s);
      }
    }
  }
  CHECK(strings == 597871);
  CHECK(differ == 0);
}
