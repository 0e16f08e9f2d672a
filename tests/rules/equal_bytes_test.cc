#include "rules/equal_bytes.h"

#include <catch2/catch.hpp>

#include <string>

TEST_CASE("equalBytes agrees with == for every size and every differing position",
          "[rules][equal-bytes]") {
  for (size_t n = 0; n <= 24; ++n) {
    std::string a;
    for (size_t i = 0; i < n; ++i) {
      a.push_back(static_cast<char>('a' + i));
    }
    const std::string same = a;
    CHECK(scrub::rules::equalBytes(a, same));
    for (size_t at = 0; at < n; ++at) {
      std::string other = a;
      other[at] = '#';
      INFO("size " << n << ", differs at " << at);
      CHECK_FALSE(scrub::rules::equalBytes(a, other));
    }
    CHECK_FALSE(scrub::rules::equalBytes(a, a + "x"));
    if (n > 0) {
      CHECK_FALSE(scrub::rules::equalBytes(a, a.substr(1)));
    }
  }
}
