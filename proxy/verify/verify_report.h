#pragma once

// What `scrubproxy verify` found, and its two renderings: a human summary for stdout and the
// JSON report for `--report FILE` (schema in README.md, "Verifying: log-leak tests"). Neither
// ever holds a canary's text or a payload value: leaks name the canary by its line in the
// canaries file, lost ids by their key.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "filters/drop_reason.h"

namespace scrub::verify {

inline constexpr int kReportSchema = 1;

struct LineCounts {
  uint64_t lines_in = 0;
  uint64_t lines_out = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::array<uint64_t, filters::kDropReasonCount> dropped{};
};

struct CorpusResult {
  std::string file;
  LineCounts counts;
  uint64_t leaks = 0;
  uint64_t lost_ids = 0;
};

struct LeakRecord {
  std::string corpus;
  uint64_t line = 0;      // 1-based line in the corpus
  uint32_t canary_id = 0; // 1-based line in the canaries file
  std::string form;
};

struct LostIdRecord {
  std::string corpus;
  uint64_t line = 0;
  std::string key;
  uint64_t count = 0; // occurrences of that key lost in that line
};

struct RuleHits {
  std::string rule;
  bool detector = false;
  // keep rules: kept, contract_failed; detectors: hits, removed, masked, hashed
  std::vector<std::pair<std::string, uint64_t>> counts;
};

struct RuleFile {
  std::string file;
  std::string sha256;
};

struct VerifyReport {
  std::string version;
  std::string rules_name;
  std::string policy;
  std::string fingerprint;
  std::vector<RuleFile> rule_files;
  std::string canaries_file;
  uint64_t canaries = 0;
  uint64_t patterns = 0;
  std::vector<std::string> expect_keep;

  std::vector<CorpusResult> corpora;
  LineCounts totals;
  uint64_t fields_unmatched = 0;
  uint64_t fields_exempt = 0;
  uint64_t embedded_json = 0;
  std::vector<RuleHits> rule_hits;

  uint64_t leaks_total = 0;
  std::map<std::string, uint64_t> leaks_by_form;
  std::vector<LeakRecord> leaks; // the first max_listed
  uint64_t lost_ids_total = 0;
  std::vector<LostIdRecord> lost_ids; // the first max_listed
  uint64_t max_listed = 1000;

  double seconds = 0;

  bool clean() const { return leaks_total == 0 && lost_ids_total == 0; }
  std::string result() const;
};

std::string reportJson(const VerifyReport& report);
std::string reportSummary(const VerifyReport& report);

} // namespace scrub::verify
