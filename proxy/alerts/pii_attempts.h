#pragma once

// PII attempts: records in which a detector fired, i.e. a job tried to log personal data. The
// workers note each such record here (a rare path, so one mutex is fine); the main thread drains
// a summary per listener once per alert window and sends it (log warning, webhook).
//
// What is kept is what a security lead needs to find the form and the job, and nothing a log
// must not hold: rule names with counts, and the system ids (`_id`, `_xform_id`) found in the
// record as it was forwarded — after the rules removed everything they do not allow.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "filters/filter_counters.h"
#include "rules/rule_set.h"

namespace scrub::proxy {

struct PiiAttemptSummary {
  std::string listener;
  uint64_t records = 0;                         // records in which some detector fired
  std::map<std::string, uint64_t> hits_by_rule; // detector name -> fields it fired on
  std::vector<std::string> ids;                 // `_id=123`, `_xform_id=aX3…`, distinct
  uint64_t ids_not_shown = 0;                   // beyond max_ids
};

class PiiAttemptTracker {
public:
  PiiAttemptTracker(std::vector<std::string> listener_names, size_t max_ids);

  // Any thread. `fired`: (detector index in `rules`, hits in this record). `forwarded`: the
  // record as it left (empty when it was dropped); its ids are taken from there.
  void note(size_t listener, const rules::RuleSet& rules,
            const std::vector<std::pair<int, uint64_t>>& fired, std::string_view forwarded);

  // The summaries gathered since the last call, one per listener that had any: each is one
  // alert.
  std::vector<PiiAttemptSummary> drain();

  // Since start, for /metrics: records noted, and alerts drained.
  struct Totals {
    uint64_t records = 0;
    uint64_t alerts = 0;
  };
  Totals totals(size_t listener) const;

private:
  const std::vector<std::string> names_;
  const size_t max_ids_;
  mutable std::mutex mutex_;
  std::vector<PiiAttemptSummary> pending_;
  std::vector<Totals> totals_;
};

// Which detectors fired since the last call, from a listener's counters (which only grow until
// reloaded rules reset them: then reset() this too). One per listener per worker.
class DetectorHitWatch {
public:
  void reset() { seen_.clear(); }
  // True when some detector fired; `fired` then holds (detector index, new hits).
  bool changed(const filters::FilterCounters& counters,
               std::vector<std::pair<int, uint64_t>>& fired);

private:
  std::vector<uint64_t> seen_;
};

// The system ids in a forwarded record: values of `_id` and `_xform_id` members at any depth,
// as `name=value` (strings without their quotes), at most `max` of them. Invalid JSON: none.
std::vector<std::string> findRecordIds(std::string_view json, size_t max);

} // namespace scrub::proxy
