// Fuzz target: filters/line_filter under one shipped pack, named by the environment variable
// SCRUB_FUZZ_PACK (default openfn-retry-ids; one executable, run once per pack). Beyond "no crash"
// it checks what the filter promises:
//  - a forwarded line is one valid JSON object (json_check.h: simdjson On Demand, numbers by the
//    grammar, since the filter forwards 1e400 byte-exact);
//  - allowlist: every path in the output is one the rules allow: each key and array step is a
//    live state of the rules' path automaton, a key only a wildcard let through matches
//    wildcard_keys, and every scalar sits where a keep rule accepts it (or below a keep rule
//    without a contract); a string elsewhere must be JSON the filter re-encoded, checked the
//    same way from its own path;
//  - a canary planted in a field the rules do not keep never leaves, not even a run of 6 bytes;
//  - the allowlist's fast path decides each line exactly as the On Demand walk does: same
//    drop reason, output and counters (filters/line_filter_index.cc).
//
// The canary is planted around the fuzzer's bytes: the first byte picks where (top level, in an
// object inside `message[]`, or inside JSON in a string in `message[]`), the rest continues the
// object. The key is `child/full_name`: no shipped pack keeps it (allowlists do not name it,
// kobo-redact denies it by key). The line is filtered twice, with two canaries of the same shape:
// a run of canary A in the output is a leak only if the same run is not also in the output for
// canary B, so runs the fuzzer wrote itself (libFuzzer learns strings from memcmp) do not count.

#include <re2/re2.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "filters/line_filter.h"
#include "rules/rule_loader.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/json_check.h"

namespace {

using scrub::rules::PathAutomaton;
using scrub::rules::Policy;
using scrub::rules::RuleSet;

constexpr std::string_view kCanaryA = "Zq8xWv3kPm5tRy7j";
constexpr std::string_view kCanaryB = "Hc4nLb6dFs2gXe9u";
constexpr size_t kRun = 6;

const RuleSet& rules() {
  static const scrub::rules::RuleSetPtr loaded = [] {
    const char* pack = std::getenv("SCRUB_FUZZ_PACK");
    auto result = scrub::rules::loadRules(
        {std::string("builtin:") + (pack != nullptr ? pack : "openfn-retry-ids")});
    SCRUB_FUZZ_CHECK(result.ok(), "the pack does not load");
    return result->rules;
  }();
  return *loaded;
}

std::string plant(uint8_t where, std::string_view canary, std::string_view rest) {
  const std::string c(canary);
  switch (where % 3) {
  case 0:
    return R"({"child/full_name":")" + c + "\"," + std::string(rest);
  case 1:
    return R"({"message":[{"child/full_name":")" + c + "\"}," + std::string(rest);
  default:
    return R"({"message":["{\"child/full_name\":\")" + c + R"(\"}"],)" + std::string(rest);
  }
}

bool containsRun(std::string_view text, std::string_view run) {
  return text.find(run) != std::string_view::npos;
}

// Judges each step of an output path against the rules (json_check.h's Visitor).
struct RulePaths {
  struct State {
    PathAutomaton::StateId id = PathAutomaton::kDead;
    bool free = false; // below a keep rule without a value contract: everything is kept
  };
  const RuleSet& set;
  int embedded_levels;

  State enter(PathAutomaton::StateId next) const {
    return {next, set.paths.info(next).first_free >= 0};
  }
  bool key(State state, std::string_view key, State& next) const {
    if (state.free) {
      next = state;
      return true;
    }
    bool by_wildcard = false;
    const auto id = set.paths.stepKey(state.id, key, by_wildcard);
    if (id == PathAutomaton::kDead) {
      return false;
    }
    if (by_wildcard && set.wildcard_keys &&
        !RE2::FullMatch(re2::StringPiece(key.data(), key.size()), *set.wildcard_keys)) {
      return false;
    }
    next = enter(id);
    return true;
  }
  bool index(State state, State& next) const {
    if (state.free) {
      next = state;
      return true;
    }
    const auto id = set.paths.stepIndex(state.id);
    next = enter(id);
    return id != PathAutomaton::kDead;
  }
  bool scalar(State state) const {
    return state.free || !set.paths.info(state.id).accepted.empty();
  }
  // A string where no keep rule accepts one can only be JSON the filter decoded, filtered under
  // this path and re-encoded: checked the same way from here.
  bool string(State state, std::string_view text) const {
    if (scalar(state)) {
      return true;
    }
    if (embedded_levels <= 0) {
      return false;
    }
    RulePaths inner{set, embedded_levels - 1};
    return scrub::fuzz::validJson(text, state, inner, /*object_only=*/false);
  }
};

// The same line through a filter with the fast path and one without; each pair keeps its own
// counters (and key cache) over the whole run, so they must stay equal input after input.
void checkFastPathAgrees(const RuleSet& set, std::string_view line) {
  struct Side {
    explicit Side(bool fast_path) { filter.setFastPath(fast_path); }
    scrub::filters::LineFilter filter;
    scrub::filters::FilterCounters counters;
    std::string out;
  };
  static Side fast(true);
  static Side walk(false);
  const auto fast_reason = fast.filter.filterCopy(line, set, fast.out, fast.counters);
  const auto walk_reason = walk.filter.filterCopy(line, set, walk.out, walk.counters);
  SCRUB_FUZZ_CHECK(fast_reason == walk_reason, "fast path: another drop reason");
  SCRUB_FUZZ_CHECK(fast.out == walk.out, "fast path: other output");
  const auto& a = fast.counters;
  const auto& b = walk.counters;
  bool same = a.lines_out == b.lines_out && a.bytes_out == b.bytes_out && a.dropped == b.dropped &&
              a.fields_unmatched == b.fields_unmatched &&
              a.fields_key_rejected == b.fields_key_rejected && a.keep.size() == b.keep.size();
  for (size_t i = 0; same && i < a.keep.size(); ++i) {
    same =
        a.keep[i].kept == b.keep[i].kept && a.keep[i].contract_failed == b.keep[i].contract_failed;
  }
  SCRUB_FUZZ_CHECK(same, "fast path: other counters");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return 0;
  }
  const RuleSet& set = rules();
  static scrub::filters::LineFilter filter;
  static scrub::filters::FilterCounters counters = [&] {
    scrub::filters::FilterCounters c;
    c.sizeFor(set);
    return c;
  }();

  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string out_a;
  std::string out_b;
  const auto reason_a = filter.filterCopy(plant(data[0], kCanaryA, rest), set, out_a, counters);
  const auto reason_b = filter.filterCopy(plant(data[0], kCanaryB, rest), set, out_b, counters);
  (void)reason_b;

  if (reason_a == scrub::filters::DropReason::None) {
    SCRUB_FUZZ_CHECK(!out_a.empty(), "forwarded an empty line");
    SCRUB_FUZZ_CHECK(scrub::fuzz::validJsonObject(out_a), "output is not a JSON object");
    if (set.policy == Policy::Allowlist) {
      RulePaths paths{set, 4};
      SCRUB_FUZZ_CHECK(scrub::fuzz::validJson(out_a, {set.paths.start(), false}, paths),
                       "output holds a path the rules do not allow");
    }
  } else {
    SCRUB_FUZZ_CHECK(out_a.empty(), "a dropped line left output");
  }
  for (size_t i = 0; i + kRun <= kCanaryA.size(); ++i) {
    const std::string_view run = kCanaryA.substr(i, kRun);
    SCRUB_FUZZ_CHECK(!containsRun(out_a, run) || containsRun(out_b, run), "canary leaked");
  }
  checkFastPathAgrees(set, plant(data[0], kCanaryA, rest));
  return 0;
}
