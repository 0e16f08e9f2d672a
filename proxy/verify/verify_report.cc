#include "proxy/verify/verify_report.h"

#include <cinttypes>
#include <cstdio>

#include "filters/json_escape.h"

namespace scrub::verify {
namespace {

using filters::appendJsonString;

std::string number(uint64_t n) {
  return std::to_string(n);
}

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

// A small writer for the report's one shape of JSON: objects and arrays written in order.
class JsonOut {
public:
  void key(std::string_view name) {
    comma();
    appendJsonString(out_, name);
    out_.push_back(':');
    fresh_ = true;
  }
  void open(char bracket) {
    comma();
    out_.push_back(bracket);
    fresh_ = true;
  }
  void close(char bracket) {
    out_.push_back(bracket);
    fresh_ = false;
  }
  void str(std::string_view value) {
    comma();
    appendJsonString(out_, value);
  }
  void raw(std::string_view value) {
    comma();
    out_.append(value);
  }
  void num(uint64_t value) { raw(number(value)); }
  void boolean(bool value) { raw(value ? "true" : "false"); }
  std::string take() { return std::move(out_); }

private:
  void comma() {
    if (!fresh_) {
      out_.push_back(',');
    }
    fresh_ = false;
  }
  std::string out_;
  bool fresh_ = true;
};

void writeCounts(JsonOut& j, const LineCounts& c) {
  j.key("lines_in");
  j.num(c.lines_in);
  j.key("lines_out");
  j.num(c.lines_out);
  j.key("bytes_in");
  j.num(c.bytes_in);
  j.key("bytes_out");
  j.num(c.bytes_out);
  j.key("dropped");
  j.open('{');
  for (size_t i = 1; i < c.dropped.size(); ++i) {
    j.key(filters::kDropReasonNames[i]);
    j.num(c.dropped[i]);
  }
  j.close('}');
}

uint64_t droppedTotal(const LineCounts& c) {
  uint64_t total = 0;
  for (size_t i = 1; i < c.dropped.size(); ++i) {
    total += c.dropped[i];
  }
  return total;
}

std::string dropSummary(const LineCounts& c) {
  std::string text = "lines in " + number(c.lines_in) + ", out " + number(c.lines_out) +
                     ", dropped " + number(droppedTotal(c));
  std::string reasons;
  for (size_t i = 1; i < c.dropped.size(); ++i) {
    if (c.dropped[i] > 0) {
      reasons += (reasons.empty() ? "" : ", ") + std::string(filters::kDropReasonNames[i]) + " " +
                 number(c.dropped[i]);
    }
  }
  return reasons.empty() ? text : text + " (" + reasons + ")";
}

} // namespace

std::string VerifyReport::result() const {
  if (leaks_total > 0 && lost_ids_total > 0) {
    return "leak_and_lost_ids";
  }
  if (leaks_total > 0) {
    return "leak";
  }
  return lost_ids_total > 0 ? "lost_ids" : "clean";
}

std::string reportJson(const VerifyReport& r) {
  JsonOut j;
  j.open('{');
  j.key("report");
  j.str("scrubproxy-verify");
  j.key("schema");
  j.num(kReportSchema);
  j.key("scrubproxy_version");
  j.str(r.version);
  j.key("result");
  j.str(r.result());

  j.key("rules");
  j.open('{');
  j.key("name");
  j.str(r.rules_name);
  j.key("policy");
  j.str(r.policy);
  j.key("fingerprint");
  j.str(r.fingerprint);
  j.key("files");
  j.open('[');
  for (const auto& file : r.rule_files) {
    j.open('{');
    j.key("file");
    j.str(file.file);
    j.key("sha256");
    j.str(file.sha256);
    j.close('}');
  }
  j.close(']');
  j.close('}');

  j.key("canaries");
  j.open('{');
  j.key("file");
  j.str(r.canaries_file);
  j.key("count");
  j.num(r.canaries);
  j.key("patterns");
  j.num(r.patterns);
  j.close('}');

  j.key("expect_keep");
  j.open('[');
  for (const auto& key : r.expect_keep) {
    j.str(key);
  }
  j.close(']');

  writeCounts(j, r.totals);
  j.key("corpora");
  j.open('[');
  for (const auto& corpus : r.corpora) {
    j.open('{');
    j.key("file");
    j.str(corpus.file);
    writeCounts(j, corpus.counts);
    j.key("leaks");
    j.num(corpus.leaks);
    j.key("lost_ids");
    j.num(corpus.lost_ids);
    j.close('}');
  }
  j.close(']');

  j.key("fields");
  j.open('{');
  j.key("unmatched");
  j.num(r.fields_unmatched);
  j.key("exempt");
  j.num(r.fields_exempt);
  j.key("embedded_json");
  j.num(r.embedded_json);
  j.close('}');

  j.key("rule_hits");
  j.open('[');
  for (const auto& hits : r.rule_hits) {
    j.open('{');
    j.key("rule");
    j.str(hits.rule);
    j.key("kind");
    j.str(hits.detector ? "detector" : "keep");
    for (const auto& [name, count] : hits.counts) {
      j.key(name);
      j.num(count);
    }
    j.close('}');
  }
  j.close(']');

  j.key("leaks_total");
  j.num(r.leaks_total);
  j.key("leaks_truncated");
  j.boolean(r.leaks_total > r.leaks.size());
  j.key("leaks_by_form");
  j.open('{');
  for (const auto& [form, count] : r.leaks_by_form) {
    j.key(form);
    j.num(count);
  }
  j.close('}');
  j.key("leaks");
  j.open('[');
  for (const auto& leak : r.leaks) {
    j.open('{');
    j.key("corpus");
    j.str(leak.corpus);
    j.key("line");
    j.num(leak.line);
    j.key("canary_id");
    j.num(leak.canary_id);
    j.key("form");
    j.str(leak.form);
    j.close('}');
  }
  j.close(']');

  j.key("lost_ids_total");
  j.num(r.lost_ids_total);
  j.key("lost_ids_truncated");
  j.boolean(r.lost_ids_total > r.lost_ids.size());
  j.key("lost_ids");
  j.open('[');
  for (const auto& lost : r.lost_ids) {
    j.open('{');
    j.key("corpus");
    j.str(lost.corpus);
    j.key("line");
    j.num(lost.line);
    j.key("key");
    j.str(lost.key);
    j.key("count");
    j.num(lost.count);
    j.close('}');
  }
  j.close(']');

  j.key("seconds");
  j.raw(fixed(r.seconds, 3));
  j.close('}');
  std::string out = j.take();
  out.push_back('\n');
  return out;
}

std::string reportSummary(const VerifyReport& r) {
  std::string s;
  s += "scrubproxy verify " + r.version + "\n";
  s += "rules: " + r.rules_name + " (" + r.policy + ")";
  for (const auto& file : r.rule_files) {
    s += "\n  " + file.file + "  sha256 " + file.sha256;
  }
  s += "\ncanaries: " + number(r.canaries) + " from " + r.canaries_file + ", " +
       number(r.patterns) + " search patterns\n";
  for (const auto& corpus : r.corpora) {
    s += "corpus " + corpus.file + ": " + dropSummary(corpus.counts) + "; leaks " +
         number(corpus.leaks);
    if (!r.expect_keep.empty()) {
      s += ", lost ids " + number(corpus.lost_ids);
    }
    s += "\n";
  }
  if (r.corpora.size() > 1) {
    s += "total: " + dropSummary(r.totals) + "\n";
  }
  for (const auto& leak : r.leaks) {
    s += "LEAK " + leak.corpus + ":" + number(leak.line) + ": canary " + number(leak.canary_id) +
         " (" + r.canaries_file + ":" + number(leak.canary_id) + ") as " + leak.form + "\n";
  }
  if (r.leaks_total > r.leaks.size()) {
    s += "... " + number(r.leaks_total - r.leaks.size()) + " more leaks not listed\n";
  }
  for (const auto& lost : r.lost_ids) {
    s += "LOST " + lost.corpus + ":" + number(lost.line) + ": " + lost.key +
         (lost.count > 1 ? " x" + number(lost.count) : "") + "\n";
  }
  if (r.lost_ids_total > r.lost_ids.size()) {
    s += "... " + number(r.lost_ids_total - r.lost_ids.size()) + " more lost ids not listed\n";
  }
  if (!r.leaks_by_form.empty()) {
    s += "leaks by form:";
    for (const auto& [form, count] : r.leaks_by_form) {
      s += " " + form + " " + number(count);
    }
    s += "\n";
  }
  s += "leaks: " + number(r.leaks_total);
  if (!r.expect_keep.empty()) {
    s += ", lost ids: " + number(r.lost_ids_total);
  }
  const double mb = static_cast<double>(r.totals.bytes_in) / 1e6;
  s += "; " + fixed(mb, 1) + " MB in " + fixed(r.seconds, 2) + " s";
  if (r.seconds > 0) {
    s += " (" + fixed(mb / r.seconds, 1) + " MB/s)";
  }
  s += "\nresult: " + std::string(r.clean() ? "clean" : r.result()) + "\n";
  return s;
}

} // namespace scrub::verify
