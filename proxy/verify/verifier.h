#pragma once

// The engine of `scrubproxy verify` (offline): streams corpora through exactly the chain the
// proxy runs (LineFramer -> LineFilter with the same limits), searches every forwarded line for
// every canary in every form, and checks that expected retry ids survive. Memory is bounded by
// the framer's buffer, the compiled canaries and the capped lists of findings, whatever the
// corpus size.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "filters/line_filter.h"
#include "proxy/verify/canary_set.h"
#include "proxy/verify/id_census.h"
#include "proxy/verify/verify_report.h"
#include "rules/result.h"
#include "rules/rule_set.h"

namespace scrub::verify {

struct VerifyOptions {
  filters::FilterLimits limits;
  std::vector<std::string> expect_keep; // e.g. {"_id", "_xform_id"}; empty: no id check
  uint64_t max_listed = 1000;           // leaks and lost ids listed in full; all are counted
  // Called after every read with the corpus, its bytes read so far and the leaks so far.
  std::function<void(const std::string& corpus, uint64_t bytes, uint64_t leaks)> progress;
};

class Verifier {
public:
  Verifier(rules::RuleSetPtr rules, CanarySet& canaries, VerifyOptions options);

  // Runs one corpus file ("-" is standard input). An error (cannot open, read error) names the
  // file; what was read before a read error stays counted.
  Status runCorpus(const std::string& path);

  // The report so far; `version` and `canaries_file` are copied into it.
  VerifyReport report(const std::string& version, const std::string& canaries_file) const;

private:
  void onLine(uint64_t number, std::string_view line, size_t capacity);
  void onFramerDrop(filters::DropReason reason);

  rules::RuleSetPtr rules_;
  CanarySet& canaries_;
  VerifyOptions options_;
  filters::LineFilter filter_;
  std::unique_ptr<IdCensus> census_;

  filters::FilterCounters totals_;
  filters::FilterCounters corpus_counters_;
  VerifyReport findings_;
  CorpusResult* corpus_ = nullptr;
  double seconds_ = 0;

  std::string out_;
  std::vector<LeakHit> hits_;
  std::vector<IdValue> ids_in_;
  std::vector<IdValue> ids_out_;
  std::vector<std::pair<uint16_t, uint64_t>> lost_;
};

} // namespace scrub::verify
