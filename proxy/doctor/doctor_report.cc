#include "proxy/doctor/doctor_report.h"

#include <algorithm>

#include "filters/json_escape.h"

namespace scrub::doctor {
namespace {

size_t countOf(const std::vector<Finding>& findings, Severity severity) {
  return static_cast<size_t>(std::count_if(
      findings.begin(), findings.end(), [&](const Finding& f) { return f.severity == severity; }));
}

std::string plural(size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

std::string padded(std::string_view text, size_t width) {
  std::string out(text);
  out.resize(std::max(width, text.size() + 1), ' ');
  return out;
}

} // namespace

bool hasErrors(const std::vector<Finding>& findings) {
  return countOf(findings, Severity::Error) > 0;
}

std::string renderText(const std::vector<Finding>& findings) {
  std::string out;
  for (const auto& f : findings) {
    out += padded(severityName(f.severity), 9) + padded(f.id, 25) + f.message + "\n";
    out += "         fix: " + f.fix + "\n";
    out += "         checklist: " + std::string(f.checklist.label) + " [seeds/" +
           std::string(f.checklist.seed) + "]\n";
  }
  out += "doctor: " + plural(countOf(findings, Severity::Error), "error") + ", " +
         plural(countOf(findings, Severity::Warning), "warning") + ", " +
         plural(countOf(findings, Severity::Info), "info") + "\n";
  return out;
}

std::string renderJson(const std::vector<Finding>& findings) {
  std::string out = "{\"findings\":[";
  bool first = true;
  for (const auto& f : findings) {
    out += first ? "{" : ",{";
    first = false;
    out += "\"id\":";
    filters::appendJsonString(out, f.id);
    out += ",\"severity\":";
    filters::appendJsonString(out, severityName(f.severity));
    out += ",\"message\":";
    filters::appendJsonString(out, f.message);
    out += ",\"fix\":";
    filters::appendJsonString(out, f.fix);
    out += ",\"checklist\":{\"seed\":";
    filters::appendJsonString(out, f.checklist.seed);
    out += ",\"item\":";
    filters::appendJsonString(out, f.checklist.item);
    out += ",\"label\":";
    filters::appendJsonString(out, f.checklist.label);
    out += "}}";
  }
  out += "],\"errors\":" + std::to_string(countOf(findings, Severity::Error)) +
         ",\"warnings\":" + std::to_string(countOf(findings, Severity::Warning)) +
         ",\"infos\":" + std::to_string(countOf(findings, Severity::Info)) + "}\n";
  return out;
}

} // namespace scrub::doctor
