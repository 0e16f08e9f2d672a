#include "proxy/alerts/pii_attempts.h"

#include <simdjson.h>

#include <algorithm>

namespace scrub::proxy {
namespace {

constexpr size_t kMaxIdBytes = 64; // an id longer than this is not a system id worth showing

void collectIds(simdjson::dom::element element, std::vector<std::string>& out, size_t max,
                int depth) {
  if (out.size() >= max || depth > 64) {
    return;
  }
  simdjson::dom::array array;
  if (!element.get_array().get(array)) {
    for (auto child : array) {
      collectIds(child, out, max, depth + 1);
    }
    return;
  }
  simdjson::dom::object object;
  if (element.get_object().get(object)) {
    return;
  }
  for (auto field : object) {
    if (field.key == "_id" || field.key == "_xform_id") {
      std::string text;
      if (field.value.is_string()) {
        text = std::string(field.value.get_string().value_unsafe());
      } else if (field.value.is_number()) {
        text = simdjson::minify(field.value);
      }
      const bool printable = std::all_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) >= 0x21 && static_cast<unsigned char>(c) < 0x7f;
      });
      if (!text.empty() && text.size() <= kMaxIdBytes && printable && out.size() < max) {
        out.push_back(std::string(field.key) + "=" + text);
      }
    } else {
      collectIds(field.value, out, max, depth + 1);
    }
  }
}

} // namespace

std::vector<std::string> findRecordIds(std::string_view json, size_t max) {
  std::vector<std::string> ids;
  if (json.empty() || max == 0) {
    return ids;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(simdjson::padded_string(json)).get(root)) {
    return ids;
  }
  collectIds(root, ids, max, 0);
  return ids;
}

PiiAttemptTracker::PiiAttemptTracker(std::vector<std::string> listener_names, size_t max_ids)
    : names_(std::move(listener_names)), max_ids_(max_ids), pending_(names_.size()),
      totals_(names_.size()) {
  for (size_t i = 0; i < names_.size(); ++i) {
    pending_[i].listener = names_[i];
  }
}

void PiiAttemptTracker::note(size_t listener, const rules::RuleSet& rules,
                             const std::vector<std::pair<int, uint64_t>>& fired,
                             std::string_view forwarded) {
  // Parsed outside the lock; the ids come from what already passed the rules.
  const std::vector<std::string> ids = findRecordIds(forwarded, max_ids_);
  std::lock_guard lock(mutex_);
  if (listener >= pending_.size()) {
    return;
  }
  PiiAttemptSummary& summary = pending_[listener];
  ++summary.records;
  ++totals_[listener].records;
  for (const auto& [detector, hits] : fired) {
    if (detector >= 0 && static_cast<size_t>(detector) < rules.detectors.size()) {
      summary.hits_by_rule[rules.detectors[detector].name] += hits;
    }
  }
  for (const auto& id : ids) {
    if (std::find(summary.ids.begin(), summary.ids.end(), id) != summary.ids.end()) {
      continue;
    }
    if (summary.ids.size() < max_ids_) {
      summary.ids.push_back(id);
    } else {
      ++summary.ids_not_shown;
    }
  }
}

std::vector<PiiAttemptSummary> PiiAttemptTracker::drain() {
  std::vector<PiiAttemptSummary> out;
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (pending_[i].records == 0) {
      continue;
    }
    out.push_back(std::move(pending_[i]));
    ++totals_[i].alerts;
    pending_[i] = PiiAttemptSummary{};
    pending_[i].listener = names_[i];
  }
  return out;
}

PiiAttemptTracker::Totals PiiAttemptTracker::totals(size_t listener) const {
  std::lock_guard lock(mutex_);
  return listener < totals_.size() ? totals_[listener] : Totals{};
}

bool DetectorHitWatch::changed(const filters::FilterCounters& counters,
                               std::vector<std::pair<int, uint64_t>>& fired) {
  fired.clear();
  const auto& detectors = counters.detectors;
  if (seen_.size() != detectors.size()) {
    seen_.assign(detectors.size(), 0);
  }
  for (size_t d = 0; d < detectors.size(); ++d) {
    const uint64_t now = detectors[d].hits;
    if (now < seen_[d]) {
      seen_[d] = 0; // reset without reset(): count from zero rather than miss hits
    }
    if (now != seen_[d]) {
      fired.emplace_back(static_cast<int>(d), now - seen_[d]);
      seen_[d] = now;
    }
  }
  return !fired.empty();
}

} // namespace scrub::proxy
