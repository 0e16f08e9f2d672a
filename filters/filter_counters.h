#pragma once

// What the filter did, as numbers. One instance per worker (plain integers, no atomics); the
// proxy sums them for metrics. Indexed by rule position in the RuleSet they were sized for.
// Counters never hold a key name or a value from payload: labels come from rule names only.

#include <array>
#include <cstdint>
#include <vector>

#include "filters/drop_reason.h"
#include "rules/rule_set.h"

namespace scrub::filters {

struct KeepRuleCounters {
  uint64_t kept = 0;            // values this rule let through
  uint64_t contract_failed = 0; // values on its path whose text broke its value contract
};

struct DetectorCounters {
  uint64_t hits = 0; // fields (or keys) it fired on
  uint64_t removed = 0;
  uint64_t masked = 0;
  uint64_t hashed = 0;
};

struct FilterCounters {
  uint64_t lines_in = 0;
  uint64_t lines_out = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::array<uint64_t, kDropReasonCount> dropped{};
  uint64_t fields_unmatched = 0;    // allowlist: removed because no keep rule names them
  uint64_t fields_exempt = 0;       // redact: passed untouched because a keep rule names them
  uint64_t fields_key_rejected = 0; // allowlist: wildcard-matched key that is no identifier
  uint64_t embedded_json = 0;       // string values decoded and filtered as JSON
  std::vector<KeepRuleCounters> keep;
  std::vector<DetectorCounters> detectors;

  void sizeFor(const rules::RuleSet& rules) {
    keep.assign(rules.keep.size(), {});
    detectors.assign(rules.detectors.size(), {});
  }
  uint64_t droppedTotal() const {
    uint64_t total = 0;
    for (size_t i = 1; i < dropped.size(); ++i) {
      total += dropped[i];
    }
    return total;
  }
};

} // namespace scrub::filters
