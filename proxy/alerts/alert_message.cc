#include "proxy/alerts/alert_message.h"

#include "filters/json_escape.h"

namespace scrub::proxy {
namespace {

std::string windowText(std::chrono::milliseconds window) {
  const auto ms = window.count();
  if (ms % 3600000 == 0) {
    return std::to_string(ms / 3600000) + "h";
  }
  if (ms % 60000 == 0) {
    return std::to_string(ms / 60000) + "m";
  }
  if (ms % 1000 == 0) {
    return std::to_string(ms / 1000) + "s";
  }
  return std::to_string(ms) + "ms";
}

} // namespace

std::string alertText(const PiiAttemptSummary& summary, std::chrono::milliseconds window) {
  std::string text = "PII attempt on listener '" + summary.listener +
                     "': " + std::to_string(summary.records) + " record" +
                     (summary.records == 1 ? "" : "s") + " in the last " + windowText(window) +
                     " held data the rules had to remove or mask; detectors:";
  bool first = true;
  for (const auto& [rule, hits] : summary.hits_by_rule) {
    text += (first ? " " : ", ") + rule + " x" + std::to_string(hits);
    first = false;
  }
  text += "; ids: ";
  if (summary.ids.empty()) {
    text += "none kept";
  }
  first = true;
  for (const auto& id : summary.ids) {
    text += (first ? "" : " ") + id;
    first = false;
  }
  if (summary.ids_not_shown > 0) {
    text += " (+" + std::to_string(summary.ids_not_shown) + " more)";
  }
  return text;
}

std::string alertJson(const PiiAttemptSummary& summary, std::chrono::milliseconds window) {
  std::string out = "{\"text\":";
  filters::appendJsonString(out, alertText(summary, window));
  out += ",\"listener\":";
  filters::appendJsonString(out, summary.listener);
  out += ",\"records\":" + std::to_string(summary.records);
  out += ",\"window_seconds\":" + std::to_string(window.count() / 1000);
  out += ",\"detectors\":{";
  bool first = true;
  for (const auto& [rule, hits] : summary.hits_by_rule) {
    out += first ? "" : ",";
    filters::appendJsonString(out, rule);
    out += ":" + std::to_string(hits);
    first = false;
  }
  out += "},\"ids\":[";
  first = true;
  for (const auto& id : summary.ids) {
    out += first ? "" : ",";
    filters::appendJsonString(out, id);
    first = false;
  }
  out += "],\"ids_not_shown\":" + std::to_string(summary.ids_not_shown) + "}";
  return out;
}

} // namespace scrub::proxy
