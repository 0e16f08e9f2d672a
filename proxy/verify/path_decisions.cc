#include "proxy/verify/path_decisions.h"

#include <unordered_map>

#include "rules/path_pattern.h"

namespace scrub::verify {
namespace {

using filters::Decision;

struct Event {
  std::string path;
  Decision decision;
  std::string rule;
};

class CollectingTrace : public filters::FilterTrace {
public:
  void onField(std::string_view path, Decision decision, std::string_view rule,
               std::string_view) override {
    events.push_back({std::string(path), decision, std::string(rule)});
  }
  std::vector<Event> events;
};

// Decisions the filter makes about a whole container without reporting what is inside.
bool decidesSubtree(Decision decision) {
  return decision == Decision::Unmatched || decision == Decision::DeniedByKey ||
         decision == Decision::KeyCarriesData || decision == Decision::Exempt ||
         decision == Decision::KeyRejected;
}

// Removed because no rule names the field: what `coverage` lists first. (A key that only a
// `*` or `**` reached and that does not look like an identifier is not named either.)
bool unnamed(Decision decision) {
  return decision == Decision::Unmatched || decision == Decision::KeyRejected;
}

void walkPaths(simdjson::dom::element element, std::string& path,
               std::vector<std::pair<std::string, bool>>& out, int depth) {
  if (depth > 256) {
    return;
  }
  simdjson::dom::object object;
  simdjson::dom::array array;
  if (!element.get_object().get(object)) {
    for (auto field : object) {
      const size_t mark = path.size();
      rules::appendPathKey(path, field.key);
      const bool container = field.value.is_object() || field.value.is_array();
      out.emplace_back(path, container);
      walkPaths(field.value, path, out, depth + 1);
      path.resize(mark);
    }
  } else if (!element.get_array().get(array)) {
    for (auto child : array) {
      const size_t mark = path.size();
      rules::appendPathIndex(path);
      const bool container = child.is_object() || child.is_array();
      out.emplace_back(path, container);
      walkPaths(child, path, out, depth + 1);
      path.resize(mark);
    }
  }
}

} // namespace

Fate fateOf(Decision decision) {
  switch (decision) {
  case Decision::Kept:
  case Decision::Exempt:
  case Decision::Passed:
    return Fate::Leaves;
  case Decision::Masked:
  case Decision::Hashed:
    return Fate::Altered;
  case Decision::EmbeddedJson:
    return Fate::Structure;
  case Decision::Unmatched:
  case Decision::ContractFailed:
  case Decision::DeniedByKey: // masked by key replaces the whole value: nothing of it leaves
  case Decision::KeyCarriesData:
  case Decision::RemovedByDetector:
  case Decision::KeyRejected:
    return Fate::Removed;
  }
  return Fate::Removed;
}

std::string parentPath(std::string_view path) {
  auto parsed = rules::parsePathPattern(path);
  if (!parsed.ok() || parsed->segments.size() <= 1) {
    return {};
  }
  std::string parent;
  for (size_t i = 0; i + 1 < parsed->segments.size(); ++i) {
    const auto& segment = parsed->segments[i];
    if (segment.kind == rules::PathSegment::Kind::AnyIndex) {
      rules::appendPathIndex(parent);
    } else {
      rules::appendPathKey(parent, segment.key);
    }
  }
  return parent;
}

std::string printPath(std::string_view path, const rules::RuleSet& detectors) {
  auto parsed = rules::parsePathPattern(path);
  if (!parsed.ok()) {
    return "<path withheld>";
  }
  std::string out;
  std::vector<int> hits;
  for (const auto& segment : parsed->segments) {
    if (segment.kind == rules::PathSegment::Kind::AnyIndex) {
      rules::appendPathIndex(out);
      continue;
    }
    std::string name;
    hits.clear();
    if (detectors.value_set && detectors.value_set->Match(segment.key, &hits) && !hits.empty()) {
      name = detectors.detectors[detectors.value_set_detector[hits.front()]].name;
    }
    if (name.empty()) {
      rules::appendPathKey(out, segment.key);
    } else {
      if (!out.empty()) {
        out.push_back('.');
      }
      out += "<key:" + name + ">";
    }
  }
  return out;
}

PathDecider::PathDecider(filters::FilterLimits limits) : filter_(limits) {}

filters::DropReason PathDecider::decide(std::string_view line, const rules::RuleSet& rules,
                                        std::vector<FieldDecision>& fields,
                                        filters::FilterCounters& counters) {
  fields.clear();
  CollectingTrace trace;
  const auto reason = filter_.filterCopy(line, rules, out_, counters, &trace);
  if (reason != filters::DropReason::None && reason != filters::DropReason::Empty) {
    return reason;
  }

  std::unordered_map<std::string, const Event*> whole;  // path -> decided as a whole
  std::unordered_map<std::string, const Event*> keeper; // path -> kept with a rule
  for (const Event& e : trace.events) {
    if (decidesSubtree(e.decision)) {
      whole.emplace(e.path, &e);
    }
    if ((e.decision == Decision::Kept || e.decision == Decision::Exempt) && !e.rule.empty()) {
      keeper.emplace(e.path, &e);
    }
  }
  auto nearest = [](const std::unordered_map<std::string, const Event*>& map,
                    const std::string& path) -> const Event* {
    for (std::string p = parentPath(path); !p.empty(); p = parentPath(p)) {
      if (const auto it = map.find(p); it != map.end()) {
        return it->second;
      }
    }
    return nullptr;
  };
  // Every event is a decision about one occurrence of its path, except a string decoded as
  // JSON that a keep rule had already kept whole: one string, reported twice.
  std::unordered_map<std::string, size_t> own; // path -> occurrences its events account for
  for (const Event& e : trace.events) {
    FieldDecision d;
    d.path = e.path;
    d.label = std::string(filters::decisionName(e.decision));
    d.rule = e.rule;
    d.fate = fateOf(e.decision);
    d.occurrence = e.decision != Decision::EmbeddedJson || keeper.count(e.path) == 0;
    if (unnamed(e.decision)) {
      d.named = false;
    } else if (e.decision == Decision::Passed && e.rule.empty()) {
      // Passed with no rule: either inside a subtree a keep rule kept whole, or (redact) a field
      // no rule names that the detectors found clean.
      if (const Event* k = nearest(keeper, e.path)) {
        d.rule = k->rule;
      } else {
        d.named = false;
      }
    }
    own[e.path] += d.occurrence ? 1 : 0;
    fields.push_back(std::move(d));
  }

  // Then every field of the line's JSON the filter did not report.
  padded_.assign(line);
  padded_.append(simdjson::SIMDJSON_PADDING, '\0');
  simdjson::dom::element root;
  if (parser_.parse(padded_.data(), line.size(), false).get(root)) {
    return reason;
  }
  std::vector<std::pair<std::string, bool>> paths;
  std::string scratch;
  walkPaths(root, scratch, paths, 0);
  // A path can have events for some occurrences and be walked in others (`message[]`: strings
  // decided, objects walked into). Occurrences beyond the path's own events are the walked ones.
  std::unordered_map<std::string, size_t> unaccounted;
  for (const auto& [path, container] : paths) {
    ++unaccounted[path];
  }
  for (auto& [path, count] : unaccounted) {
    const auto it = own.find(path);
    if (it != own.end()) {
      count = count > it->second ? count - it->second : 0;
    }
  }
  for (auto& [path, container] : paths) {
    if (own.count(path) > 0) {
      size_t& extra = unaccounted[path];
      if (container && extra > 0) {
        --extra;
        fields.push_back({path, "walked", {}, Fate::Structure, false, true, true});
      }
      continue;
    }
    FieldDecision d;
    d.path = std::move(path);
    if (const Event* w = nearest(whole, d.path)) {
      d.label = std::string(filters::decisionName(w->decision));
      d.rule = w->rule;
      d.fate = fateOf(w->decision);
      d.inherited = true;
      d.named = !unnamed(w->decision);
    } else if (container) {
      d.label = "walked";
      d.fate = Fate::Structure;
    } else {
      // Should not happen for a line the filter walked; say so rather than guess.
      d.label = "not reported";
      d.fate = Fate::Removed;
      d.named = false;
    }
    fields.push_back(std::move(d));
  }
  return reason;
}

} // namespace scrub::verify
