// The allowlist's fast path (filters/line_filter_index.cc) must decide every line exactly as the
// On Demand walk does: same output bytes, same drop reason, same counters. Checked line by line
// over a generated corpus and over the shapes where the two could part (numbers and white space
// as written, escapes, depth limits, JSON in strings, wildcard keys, every kind of grammar error,
// whatever lies in the padding after the line).

#include "filter_test_support.h"
#include "proxy/synthetic_corpus.h"

namespace {

using scrub::filters::DropReason;
using scrub::filters::FilterCounters;
using scrub::filters::FilterLimits;
using scrub::filters::LineFilter;
using scrub::testing::rulesFromPacks;
using scrub::testing::rulesFromYaml;

void requireSameCounters(const FilterCounters& fast, const FilterCounters& walk) {
  CHECK(fast.lines_in == walk.lines_in);
  CHECK(fast.lines_out == walk.lines_out);
  CHECK(fast.bytes_in == walk.bytes_in);
  CHECK(fast.bytes_out == walk.bytes_out);
  CHECK(fast.dropped == walk.dropped);
  CHECK(fast.fields_unmatched == walk.fields_unmatched);
  CHECK(fast.fields_key_rejected == walk.fields_key_rejected);
  CHECK(fast.embedded_json == walk.embedded_json);
  REQUIRE(fast.keep.size() == walk.keep.size());
  for (size_t i = 0; i < fast.keep.size(); ++i) {
    INFO("keep rule " << i);
    CHECK(fast.keep[i].kept == walk.keep[i].kept);
    CHECK(fast.keep[i].contract_failed == walk.keep[i].contract_failed);
  }
}

// Runs every line through a filter with the fast path and one without; returns how many lines
// the fast path decided.
uint64_t compareWalks(const scrub::rules::RuleSet& rules, const std::vector<std::string>& lines,
                      FilterLimits limits = {}) {
  LineFilter fast(limits);
  LineFilter walk(limits);
  walk.setFastPath(false);
  FilterCounters fast_counters;
  FilterCounters walk_counters;
  std::string fast_out;
  std::string walk_out;
  for (const std::string& line : lines) {
    INFO("line: " << line);
    const DropReason fast_reason = fast.filterCopy(line, rules, fast_out, fast_counters);
    const DropReason walk_reason = walk.filterCopy(line, rules, walk_out, walk_counters);
    REQUIRE(fast_reason == walk_reason);
    REQUIRE(fast_out == walk_out);
    requireSameCounters(fast_counters, walk_counters);
  }
  CHECK(walk.fastPathLines() == 0);
  return fast.fastPathLines();
}

std::vector<std::string> corpusLines(size_t count, uint64_t seed) {
  scrub::corpus::CorpusGenerator generator(seed);
  std::vector<std::string> lines;
  for (size_t i = 0; i < count; ++i) {
    lines.push_back(generator.next().json);
  }
  return lines;
}

constexpr const char* kIdsAndFreeMessage = R"(version: 1
name: t
policy: allowlist
envelope: [level]
keep:
  - path: level
    value: '(info|debug)'
  - path: '**._id'
    value: '-?[0-9]+'
  - path: 'flag'
    value: '(true|false|null)'
  - path: 'free'
)";

} // namespace

TEST_CASE("fast path: the default pack decides the corpus as the On Demand walk does",
          "[filters][fast-path]") {
  const auto rules = rulesFromPacks({"openfn-retry-ids"});
  const auto lines = corpusLines(5000, 20261123);
  const uint64_t fast = compareWalks(*rules, lines);
  // Lines with a backslash (JSON in strings, mostly) go to the On Demand walk; the rest must not,
  // or the fast path has silently stopped working.
  size_t plain = 0;
  for (const auto& line : lines) {
    plain += line.find('\\') == std::string::npos ? 1 : 0;
  }
  CHECK(fast == plain);
  CHECK(fast > lines.size() * 9 / 10);
}

TEST_CASE("fast path: lines where the two walks could part", "[filters][fast-path]") {
  const auto rules = rulesFromYaml(kIdsAndFreeMessage);
  std::vector<std::string> lines = {
      // numbers: written as they stand, as the On Demand walk does
      R"({"level":"info","_id":0})",
      R"({"level":"info","_id":-0})",
      R"({"level":"info","_id":1.0})",
      R"({"level":"info","_id":1e400})",
      R"({"level":"info","_id":123456789012345678901234567890})",
      R"({"level":"info","_id":18446744073709551615,"x":{"_id":-9223372036854775808}})",
      R"({"level":"info","a":[{"_id":7},{"_id":"8"},{"_id":true}],"b":[[[{"_id":9}]]]})",
      R"({"level":"info","flag":true,"x":{"flag":null}})",
      R"({"level":"info","flag":null})",
      // keep rule without contract: the On Demand walk writes the subtree as it is
      R"({"level":"info","free":{"a":1.50,"b":"x"}})",
      // escapes anywhere: handed back
      R"({"level":"info","_id":5,"n":"a\"b"})",
      R"({"lev\u0065l":"info","_id":5})",
      // JSON in strings, with and without escapes
      R"({"level":"info","m":["[1,2]"],"k":"{}","_id":"{\"_id\":5}"})",
      R"({"level":"info","m":" {not json","n":"[","o":"  [x]  "})",
      // wildcard keys that are no identifier
      R"({"level":"info","m":{"a b":{"_id":1},"ok_key":{"_id":2}}})",
      // envelope only, empty containers, duplicates
      R"({"level":"info"})",
      R"({"level":"info","_id":1,"_id":2,"e":{},"f":[]})",
      R"({})",
      // invalid or not an object: judged by the On Demand walk
      R"({"level":"info","_id":5)",
      R"({"level":"info","_id":5} x)",
      R"({"level":"info","_id":5}   )",
      R"([{"_id":5}])",
      R"("text")",
      "{\"level\":\"info\",\"n\":\"\xff\"}",
      R"({"level":"info","x":[1,2,}])",
      R"({"level":"info","x":tru})",
      R"({"level":"info","x":01})",
      "",
  };
  compareWalks(*rules, lines);
}

TEST_CASE("fast path: depth limits match the walk's at the boundary", "[filters][fast-path]") {
  const auto rules = rulesFromPacks({"openfn-retry-ids"});
  FilterLimits limits;
  limits.max_depth = 5;
  std::vector<std::string> lines;
  for (int levels = 3; levels <= 7; ++levels) {
    // The deep part sits where no rule reaches (skipped by the fast path) and where `**._id`
    // does (walked).
    std::string open;
    std::string close;
    for (int i = 1; i < levels; ++i) {
      open += "[";
      close += "]";
    }
    lines.push_back(R"({"level":"info","x":)" + open + "1" + close + "}");
    lines.push_back(R"({"level":"info","x":)" + open + R"({"_id":5})" + close + "}");
  }
  compareWalks(*rules, lines, limits);
  LineFilter filter(limits);
  FilterCounters counters;
  std::string out;
  CHECK(filter.filterCopy(R"({"a":[[[[[1]]]]]})", *rules, out, counters) == DropReason::TooDeep);
}

TEST_CASE("fast path: only for allowlists without detectors, and lines up to 64 KiB",
          "[filters][fast-path]") {
  const std::vector<std::string> lines = {R"({"level":"info","name":"JOB","_id":5})"};
  const auto with_detectors = rulesFromPacks({"openfn-retry-ids", "pii-detectors"});
  CHECK(compareWalks(*with_detectors, lines) == 0);
  const auto redact = rulesFromPacks({"kobo-redact"});
  CHECK(compareWalks(*redact, lines) == 0);
  const auto plain = rulesFromPacks({"openfn-retry-ids"});
  CHECK(compareWalks(*plain, lines) == 1);
  // Lines over 64 KiB: the structural index is sized for 64 KiB.
  const std::string long_line =
      R"({"level":"info","name":"JOB","note":")" + std::string(70 << 10, 'x') + R"(","_id":5})";
  CHECK(compareWalks(*plain, {long_line}) == 0);
  // A scan budget smaller than a line could be exceeded by key checks alone: no fast path.
  FilterLimits tight;
  tight.max_scan_bytes = 100;
  CHECK(compareWalks(*plain, lines, tight) == 0);
}

TEST_CASE("Fast path: white space, numbers and literals as written are decided by the fast path",
          "[filters][fast-path]") {
  const auto rules = rulesFromYaml(kIdsAndFreeMessage);
  const std::vector<std::string> lines = {
      R"( { "level" : "info" , "_id" : 5 } )",
      "{\"level\":\"info\",\n\"_id\":5\t,\r\"x\" : [ 1 , {\"_id\" : 6 } ] }",
      R"({"level":"info","m":[ {"_id" : 7 } , [ ] , { } , "s" , 8 ],"_id" :9})",
      // The On Demand walk writes a number's text as it stands; so does this path.
      R"({"level":"info","_id":0})",
      R"({"level":"info","_id":-0})",
      R"({"level":"info","_id":1.0})",
      R"({"level":"info","_id":1e400})",
      R"({"level":"info","_id":123456789012345678901234567890})",
      R"({"level":"info","_id":-9223372036854775809,"x":{"_id":18446744073709551616}})",
      R"({"level":"info","flag":true,"x":{"flag":null},"y":[false,null,true],"flag":false})",
      R"({"level":"info","x":{"a":-1.5e-3,"b":[0,1E+2,-0.0],"c":{"d":{"e":[[[]]]}}},"_id":1})",
      R"({"level":"debug","_id":"12","_xform_id":"x","Name":"a","m":[{"_id":3}]})",
      R"({"level":"info"})",
      R"({})",
  };
  CHECK(compareWalks(*rules, lines) == lines.size());
}

TEST_CASE("Fast path: every grammar error goes back to the On Demand walk",
          "[filters][fast-path]") {
  const auto rules = rulesFromYaml(kIdsAndFreeMessage);
  const std::vector<std::string> lines = {
      // where no rule reaches (the value is only checked)
      R"({"level":"info","x":{"y":[1,{"z":tru}]}})",
      R"({"level":"info","x":{"y" 1}})",
      R"({"level":"info","x":{"y" 1 2}})",
      R"({"level":"info","x":{"a":1:"b":2}})",
      R"({"level":"info","x":[1:2]})",
      R"({"level":"info","x":{"y":}})",
      R"({"level":"info","x":{:1}})",
      R"({"level":"info","x":[1,2,]})",
      R"({"level":"info","x":[,1]})",
      R"({"level":"info","x":{"a":1,}})",
      R"({"level":"info","x":{"a":1 "b":2}})",
      R"({"level":"info","x":[1 2]})",
      R"({"level":"info","x":[1}})",
      R"({"level":"info","x":{"a":1]})",
      R"({"level":"info","x":01})",
      R"({"level":"info","x":"a"b})",
      R"({"level":"info","x":"a""b"})",
      R"({"level":"info","x":truex})",
      R"({"level":"info","x":nul})",
      R"({"level":"info","x":fals})",
      R"({"level":"info","x":-})",
      R"({"level":"info","x":1.})",
      R"({"level":"info","x":.5})",
      R"({"level":"info","x":1e})",
      R"({"level":"info","x":1e+})",
      R"({"level":"info","x":+1})",
      R"({"level":"info","x":0x10})",
      "{\"level\":\"info\",\"x\":1\xc3\xa9}",
      "{\"level\":\"info\",\"x\":\x01}",
      "{\"level\":\"info\",\"x\":\"a\tb\"}",
      // where rules reach (the value is walked)
      R"({"level":"info","m":[{"_id":5,}]})",
      R"({"level":"info","m":[{"_id":5 "x":1}]})",
      R"({"level":"info","m":[{"_id" 1 5}]})",
      R"({"level":"info","m":[{"_id":5}:{"_id":6}]})",
      R"({"level":"info","_id":5:"x":1})",
      R"({"level":"info","x" 1 2})",
      R"({"level":"info","m":[{"_id":05}]})",
      R"({"level":"info","m":[{"_id":5}])",
      R"({"level":"info","m":[{"_id":5}}})",
      R"({"level":"info","m":[{"_id":5},]})",
      R"({"level":"info","_id":5,})",
      R"({"level":"info",,"_id":5})",
      R"({,"level":"info"})",
      R"({"level":"info":5})",
      R"({"level"})",
      R"({"level":})",
      R"({"level":"info","flag":tru})",
      R"({"level":"info","_id":-})",
      // unclosed or over-closed at every depth, trailing bytes
      R"({"level":"info","x":{)",
      R"({"level":"info","x":[)",
      R"({"level":"info","x":)",
      R"({"level":"info","x")",
      R"({"level":"info"}})",
      R"({"level":"info"},)",
      R"({"level":"info"}{"_id":2})",
      R"({"level":"info"} 1)",
      "{",
      "}",
      "{\"level\":\"info\"",
  };
  // None of them may be taken by the fast path: it hands back anything it cannot prove valid.
  CHECK(compareWalks(*rules, lines) == 0);
  // The closed neighbour of the unclosed lines above is valid, and the fast path's to decide.
  CHECK(compareWalks(*rules, {R"({"level":"info","x":{}})"}) == 1);
}

TEST_CASE("Fast path: the padding after the line is never read as part of it",
          "[filters][fast-path]") {
  // The proxy's padding is the next bytes of its read buffer, which may be anything: closing
  // brackets past an unclosed line must not complete it.
  const auto rules = rulesFromYaml(kIdsAndFreeMessage);
  for (const std::string line :
       {R"({"level":"info","x":{)", R"({"level":"info","x":[)", R"({"level":"info","_id":5)",
        R"({"level":"info","m":[{"_id":5})", R"({"level":"info","x":"a")", "{"}) {
    INFO("line: " << line);
    std::string buffer = line + std::string(simdjson::SIMDJSON_PADDING + 8, '}');
    buffer.replace(line.size(), 2, "]}");
    LineFilter filter;
    FilterCounters counters;
    std::string out;
    CHECK(filter.filter(std::string_view(buffer.data(), line.size()), buffer.size(), *rules, out,
                        counters) == DropReason::InvalidJson);
    CHECK(out.empty());
    CHECK(filter.fastPathLines() == 0);
  }
}
