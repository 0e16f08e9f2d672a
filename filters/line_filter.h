#pragma once

// The per-line decision: parse one JSON line with simdjson On Demand, walk it once with the
// compiled rules, and write what may leave as minified JSON. Values that pass untouched are
// copied byte-exact from the input (numbers such as 1e400 or -0.0, strings with their escapes).
// Allowlists without detectors first try a faster walk over simdjson's structural index
// (line_filter_index.cc), which takes only the lines it decides exactly as the On Demand walk
// would.
//
// Fail closed: invalid JSON (anywhere in the line, also inside removed subtrees), invalid UTF-8,
// over-long and over-deep lines and non-object lines are dropped with a reason, never forwarded
// in any form. The data path never throws and never allocates once its buffers have grown.
//
// Threading: one LineFilter per worker thread (it owns simdjson parsers); the RuleSet is
// shared and read-only.

#include <simdjson.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "filters/drop_reason.h"
#include "filters/filter_counters.h"
#include "filters/key_verdict_cache.h"
#include "rules/detector_match.h"
#include "rules/rule_set.h"

namespace scrub::filters {

struct FilterLimits {
  size_t max_line_bytes = 1 << 20;
  size_t max_depth = 64;
  // JSON inside string values: decoded up to this size and this many levels of strings within
  // strings; beyond that a string is treated as text.
  size_t max_embedded_bytes = 256 << 10;
  int max_embedded_levels = 3;
  // The work one line may cost, so that one hostile line cannot stall a worker: bytes run
  // through detector patterns (every pass counts: the combined set, then each detector that
  // fired, over the same text) and bytes of strings decoded as JSON. A line over either is
  // dropped whole as over_budget.
  size_t max_scan_bytes = 16 << 20;
  size_t max_decoded_bytes = 1 << 20;
};

// What happened to one field, for `explain`.
enum class Decision : uint8_t {
  Kept,           // a keep rule let it through (detectors found nothing)
  Exempt,         // redact policy: a keep rule names it, detectors skipped
  Passed,         // redact policy: detectors found nothing
  Unmatched,      // allowlist: no keep rule names it
  ContractFailed, // a keep rule names it but its value broke the contract
  DeniedByKey,    // a key detector fired
  KeyCarriesData, // the key itself matched a value detector
  Masked,         // a detector fired; matched text masked
  Hashed,         // a detector fired; matched text replaced by a pseudonym
  RemovedByDetector,
  EmbeddedJson, // a string decoded as JSON and filtered inside
  KeyRejected,  // allowlist: only a wildcard let the key through, and it is no identifier
};

std::string_view decisionName(Decision decision);

class FilterTrace {
public:
  virtual ~FilterTrace() = default;
  // `rule` is a keep rule or detector name, empty when none decided. Never carries a value
  // unless the tracer was asked for values (then `value` is the field's text, else empty).
  virtual void onField(std::string_view path, Decision decision, std::string_view rule,
                       std::string_view value) = 0;
};

class LineFilter {
public:
  explicit LineFilter(FilterLimits limits = {});
  ~LineFilter();
  LineFilter(const LineFilter&) = delete;
  LineFilter& operator=(const LineFilter&) = delete;

  // Filters one line (without its '\n'). `capacity` is how many bytes are readable from
  // line.data(): at least line.size() + simdjson::SIMDJSON_PADDING. On DropReason::None `out`
  // holds the minified result (replaced, not appended); otherwise `out` is cleared.
  DropReason filter(std::string_view line, size_t capacity, const rules::RuleSet& rules,
                    std::string& out, FilterCounters& counters,
                    FilterTrace* trace = nullptr) noexcept;

  // The same for a line without padding: it is copied into an internal padded buffer first.
  DropReason filterCopy(std::string_view line, const rules::RuleSet& rules, std::string& out,
                        FilterCounters& counters, FilterTrace* trace = nullptr) noexcept;

  void setTraceValues(bool show) { trace_values_ = show; }
  const FilterLimits& limits() const { return limits_; }

  // The allowlist's fast path over simdjson's structural index (line_filter_index.cc) is on by
  // default; tests and the fuzz target turn it off to check that both walks agree.
  void setFastPath(bool on) { fast_path_ = on; }
  // Lines the fast path decided (the others went, or went back, to the On Demand walk).
  uint64_t fastPathLines() const { return fast_lines_; }

private:
  struct Walk;
  struct IndexWalk;
  struct Embedded;
  enum class FastResult : uint8_t { Written, Dropped, Fallback };

  bool fastPathFits(const rules::RuleSet& rules, const FilterTrace* trace) const;
  FastResult filterIndexed(std::string_view line, const rules::RuleSet& rules, std::string& out,
                           FilterCounters& counters, size_t& top_content);
  // The end both walks share: empty lines, `{}`, the output counters.
  DropReason finishLine(bool written, size_t top_content, const rules::RuleSet& rules,
                        std::string& out, FilterCounters& counters);

  FilterLimits limits_;
  simdjson::ondemand::parser parser_;
  simdjson::dom::parser validator_; // only for telling non-objects from invalid JSON
  // The fast path's simdjson stage 1 (its structural index), sized for kIndexMaxLineBytes.
  // Its buffers hold positions in the line, never its bytes.
  std::unique_ptr<simdjson::internal::dom_parser_implementation> indexer_;
  std::vector<uint32_t> keep_events_; // the fast path's keep-rule counts, held until it decides
  std::string fast_out_;              // the fast path's output, copied to `out` once decided
  // Longer lines take the On Demand walk, so the index stays at 256 KiB per filter.
  static constexpr size_t kIndexMaxLineBytes = 64 << 10;
  // The fast walk recurses once per level: above On Demand's own depth limit, no fast path.
  static constexpr size_t kFastMaxDepth = 1024;
  bool fast_path_ = true;
  uint64_t fast_lines_ = 0;
  std::string copy_buffer_;
  std::vector<rules::MatchSpan> spans_;
  std::vector<int> set_hits_;
  KeyVerdictCache key_verdicts_;
  std::string text_scratch_;
  std::string path_;
  std::vector<std::unique_ptr<Embedded>> embedded_;
  bool trace_values_ = false;
};

} // namespace scrub::filters
