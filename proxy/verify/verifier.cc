#include "proxy/verify/verifier.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "proxy/verify/numbered_lines.h"

namespace scrub::verify {
namespace {

void addCounts(LineCounts& into, const filters::FilterCounters& c) {
  into.lines_in += c.lines_in;
  into.lines_out += c.lines_out;
  into.bytes_in += c.bytes_in;
  into.bytes_out += c.bytes_out;
  for (size_t i = 0; i < c.dropped.size(); ++i) {
    into.dropped[i] += c.dropped[i];
  }
}

void addCounters(filters::FilterCounters& into, const filters::FilterCounters& c) {
  into.lines_in += c.lines_in;
  into.lines_out += c.lines_out;
  into.bytes_in += c.bytes_in;
  into.bytes_out += c.bytes_out;
  for (size_t i = 0; i < c.dropped.size(); ++i) {
    into.dropped[i] += c.dropped[i];
  }
  into.fields_unmatched += c.fields_unmatched;
  into.fields_exempt += c.fields_exempt;
  into.embedded_json += c.embedded_json;
  for (size_t i = 0; i < c.keep.size() && i < into.keep.size(); ++i) {
    into.keep[i].kept += c.keep[i].kept;
    into.keep[i].contract_failed += c.keep[i].contract_failed;
  }
  for (size_t i = 0; i < c.detectors.size() && i < into.detectors.size(); ++i) {
    into.detectors[i].hits += c.detectors[i].hits;
    into.detectors[i].removed += c.detectors[i].removed;
    into.detectors[i].masked += c.detectors[i].masked;
    into.detectors[i].hashed += c.detectors[i].hashed;
  }
}

} // namespace

Verifier::Verifier(rules::RuleSetPtr rules, CanarySet& canaries, VerifyOptions options)
    : rules_(std::move(rules)), canaries_(canaries), options_(std::move(options)),
      filter_(options_.limits) {
  if (!options_.expect_keep.empty()) {
    census_ = std::make_unique<IdCensus>(options_.expect_keep);
    canaries_.setIdKeys(options_.expect_keep);
  }
  totals_.sizeFor(*rules_);
  findings_.corpora.reserve(16);
}

Status Verifier::runCorpus(const std::string& path) {
  const bool is_stdin = path == "-";
  const int fd = is_stdin ? 0 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error{path + ": cannot open corpus: " + std::strerror(errno)};
  }
  findings_.corpora.push_back({});
  corpus_ = &findings_.corpora.back();
  corpus_->file = path;
  corpus_counters_ = {};
  corpus_counters_.sizeFor(*rules_);

  const auto start = std::chrono::steady_clock::now();
  const NumberedSink sink{[&](uint64_t number, std::string_view line, size_t capacity) {
                            onLine(number, line, capacity);
                          },
                          [&](uint64_t) { onFramerDrop(filters::DropReason::TooLong); },
                          [&](uint64_t) { onFramerDrop(filters::DropReason::Truncated); },
                          [&](uint64_t bytes) {
                            if (options_.progress) {
                              options_.progress(path, bytes, findings_.leaks_total);
                            }
                          }};
  const bool ok = readNumberedLines(fd, options_.limits.max_line_bytes, sink);
  const int read_errno = errno;
  if (!is_stdin) {
    ::close(fd);
  }
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  addCounts(corpus_->counts, corpus_counters_);
  addCounters(totals_, corpus_counters_);
  corpus_ = nullptr;
  if (!ok) {
    return Error{path + ": read error: " + std::strerror(read_errno)};
  }
  return Ok{};
}

void Verifier::onFramerDrop(filters::DropReason reason) {
  ++corpus_counters_.lines_in;
  ++corpus_counters_.dropped[static_cast<size_t>(reason)];
}

void Verifier::onLine(uint64_t number, std::string_view line, size_t capacity) {
  const bool check_ids = census_ && census_->collect(line, capacity, ids_in_) && !ids_in_.empty();
  const auto reason = filter_.filter(line, capacity, *rules_, out_, corpus_counters_);
  const bool forwarded = reason == filters::DropReason::None;
  if (forwarded) {
    canaries_.scan(out_, hits_);
    for (const LeakHit& hit : hits_) {
      ++findings_.leaks_total;
      ++corpus_->leaks;
      ++findings_.leaks_by_form[std::string(hit.form)];
      if (findings_.leaks.size() < options_.max_listed) {
        findings_.leaks.push_back({corpus_->file, number,
                                   canaries_.canaries()[hit.canary].file_line,
                                   std::string(hit.form)});
      }
    }
  }
  if (check_ids) {
    ids_out_.clear();
    if (forwarded) {
      // The filter always writes valid JSON; a parse failure would leave ids_out_ empty and
      // report every id lost, which is the safe direction.
      (void)census_->collectCopy(out_, ids_out_);
    }
    IdCensus::lost(ids_in_, ids_out_, lost_);
    for (const auto& [key, count] : lost_) {
      findings_.lost_ids_total += count;
      corpus_->lost_ids += count;
      if (findings_.lost_ids.size() < options_.max_listed) {
        findings_.lost_ids.push_back({corpus_->file, number, options_.expect_keep[key], count});
      }
    }
  }
}

VerifyReport Verifier::report(const std::string& version, const std::string& canaries_file) const {
  VerifyReport r = findings_;
  r.version = version;
  r.rules_name = rules_->name;
  r.policy = std::string(rules::policyName(rules_->policy));
  r.fingerprint = rules_->fingerprint();
  for (const auto& source : rules_->sources) {
    r.rule_files.push_back({source.file, source.sha256});
  }
  r.canaries_file = canaries_file;
  r.canaries = canaries_.canaries().size();
  r.patterns = canaries_.patternCount();
  r.expect_keep = options_.expect_keep;
  r.max_listed = options_.max_listed;
  addCounts(r.totals, totals_);
  r.fields_unmatched = totals_.fields_unmatched;
  r.fields_exempt = totals_.fields_exempt;
  r.embedded_json = totals_.embedded_json;
  for (size_t i = 0; i < rules_->keep.size(); ++i) {
    const auto& c = totals_.keep[i];
    r.rule_hits.push_back(
        {rules_->keep[i].name, false, {{"kept", c.kept}, {"contract_failed", c.contract_failed}}});
  }
  for (size_t i = 0; i < rules_->detectors.size(); ++i) {
    const auto& c = totals_.detectors[i];
    r.rule_hits.push_back(
        {rules_->detectors[i].name,
         true,
         {{"hits", c.hits}, {"removed", c.removed}, {"masked", c.masked}, {"hashed", c.hashed}}});
  }
  r.seconds = seconds_;
  return r;
}

} // namespace scrub::verify
