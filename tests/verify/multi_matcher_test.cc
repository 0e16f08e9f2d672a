#include "proxy/verify/multi_matcher.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace {

using scrub::verify::MultiMatcher;
using Match = std::pair<int, size_t>; // pattern id, end offset

std::vector<Match> naive(const std::vector<std::string>& patterns, const std::vector<int>& ids,
                         const std::string& text) {
  std::vector<Match> out;
  for (size_t p = 0; p < patterns.size(); ++p) {
    for (size_t at = text.find(patterns[p]); at != std::string::npos;
         at = text.find(patterns[p], at + 1)) {
      out.emplace_back(ids[p], at + patterns[p].size());
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<Match> scanned(const MultiMatcher& matcher, const std::string& text) {
  std::vector<Match> out;
  matcher.scan(text, [&](int id, size_t end) { out.emplace_back(id, end); });
  std::sort(out.begin(), out.end());
  return out;
}

std::string randomText(std::mt19937& rng, size_t length, const std::string& alphabet) {
  std::string s(length, ' ');
  for (auto& c : s) {
    c = alphabet[rng() % alphabet.size()];
  }
  return s;
}

} // namespace

TEST_CASE("matcher: overlapping, nested and repeated patterns", "[verify][matcher]") {
  MultiMatcher m;
  const std::vector<std::string> patterns = {"he", "she", "his", "hers", "e", "ushers"};
  std::vector<int> ids;
  for (const auto& p : patterns) {
    ids.push_back(m.add(p));
  }
  CHECK(m.add("she") == ids[1]); // the same bytes get the same id
  CHECK(m.add("") == -1);
  m.build();
  const std::string text = "ushers and his heroes";
  CHECK(scanned(m, text) == naive(patterns, ids, text));
  CHECK(m.any("xxhexx"));
  CHECK_FALSE(m.any("xxxx"));
}

TEST_CASE("matcher: empty automaton finds nothing", "[verify][matcher]") {
  MultiMatcher m;
  m.build();
  CHECK_FALSE(m.any("anything"));
  CHECK(scanned(m, "anything").empty());
}

TEST_CASE("matcher agrees with a naive search on random patterns", "[verify][matcher]") {
  // A small alphabet forces deep failure chains; many patterns push states past the dense rows
  // into the sparse part of the automaton.
  for (const auto& [count, alphabet] :
       {std::tuple<size_t, std::string>{50, "ab"}, std::tuple<size_t, std::string>{400, "abc"},
        std::tuple<size_t, std::string>{6000, "abcdefgh"},
        std::tuple<size_t, std::string>{3000, std::string("\x00\xff\x80z", 4)}}) {
    std::mt19937 rng(static_cast<unsigned>(count));
    std::vector<std::string> patterns;
    std::set<std::string> distinct;
    while (patterns.size() < count) {
      std::string p = randomText(rng, 1 + rng() % 12, alphabet);
      if (distinct.insert(p).second) {
        patterns.push_back(p);
      }
    }
    MultiMatcher m;
    std::vector<int> ids;
    for (const auto& p : patterns) {
      ids.push_back(m.add(p));
    }
    m.build();
    INFO("patterns " << count << ", states " << m.stateCount());
    if (count == 6000) {
      CHECK(m.stateCount() > 8192); // the sparse part is exercised
    }
    for (int round = 0; round < 20; ++round) {
      const std::string text = randomText(rng, 300, alphabet);
      REQUIRE(scanned(m, text) == naive(patterns, ids, text));
    }
  }
}
