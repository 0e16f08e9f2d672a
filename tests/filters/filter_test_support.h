#pragma once

// Shared by the filter tests: load rules from inline YAML or a pack and run lines through them.

#include <catch2/catch.hpp>

#include <string>

#include "filters/line_filter.h"
#include "rules/rule_loader.h"

namespace scrub::testing {

inline rules::RuleSetPtr rulesFromYaml(const std::string& yaml,
                                       const rules::LoadOptions& options = {}) {
  auto loaded = rules::loadRulesFromText(yaml, "test.yaml", options);
  INFO((loaded.ok() ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  return loaded->rules;
}

inline rules::RuleSetPtr rulesFromPacks(const std::vector<std::string>& packs) {
  auto loaded = rules::loadRules(packs);
  INFO((loaded.ok() ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  return loaded->rules;
}

struct Filtered {
  filters::DropReason reason;
  std::string out;
};

class FilterHarness {
public:
  explicit FilterHarness(rules::RuleSetPtr rules, filters::FilterLimits limits = {})
      : rules_(std::move(rules)), filter_(limits) {}

  Filtered run(std::string_view line) {
    Filtered result;
    result.reason = filter_.filterCopy(line, *rules_, result.out, counters_);
    return result;
  }
  // The output, failing the test if the line was dropped.
  std::string pass(std::string_view line) {
    auto result = run(line);
    INFO("line: " << line);
    REQUIRE(result.reason == filters::DropReason::None);
    return result.out;
  }
  filters::DropReason drop(std::string_view line) {
    auto result = run(line);
    INFO("line: " << line << " -> " << result.out);
    REQUIRE(result.reason != filters::DropReason::None);
    REQUIRE(result.out.empty());
    return result.reason;
  }

  filters::FilterCounters& counters() { return counters_; }
  const rules::RuleSet& rules() const { return *rules_; }
  filters::LineFilter& filter() { return filter_; }

private:
  rules::RuleSetPtr rules_;
  filters::LineFilter filter_;
  filters::FilterCounters counters_;
};

} // namespace scrub::testing
