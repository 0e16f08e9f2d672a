#pragma once

// How each field of a line was decided, for `coverage` and `diff`: the filter's own trace
// (FilterTrace::onField) completed with the fields it never reports. The filter reports a
// removed or exempt container once, not its contents, and reports nothing for containers it
// walks into; a simdjson DOM walk of the input lists every key path, and a field without an
// event of its own takes the decision of its nearest container that was decided whole.
//
// Values are never read into the results: only paths, decisions and rule names. A key that is
// itself personal data can still appear in a path; printPath() elides keys that a detector
// recognises.

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "filters/line_filter.h"
#include "rules/rule_set.h"

namespace scrub::verify {

// What a decision means for what leaves.
enum class Fate : uint8_t {
  Leaves,    // the value leaves unaltered (kept, exempt, passed)
  Altered,   // part of it leaves: masked or hashed text
  Removed,   // nothing of it leaves
  Structure, // a container walked into, or a string decoded as JSON: its fields decide
};

struct FieldDecision {
  std::string path;  // `message[].child/full_name`
  std::string label; // decisionName(), or "walked"
  std::string rule;  // the deciding rule; for an inherited decision, the container's rule
  Fate fate = Fate::Structure;
  bool inherited = false; // decided with its container, which the filter reported whole
  bool named = true;      // some rule (keep rule or detector) named this path or a container
  bool occurrence = true; // counts as one occurrence of the path (not a second event for it)
};

class PathDecider {
public:
  explicit PathDecider(filters::FilterLimits limits = {});

  // Filters `line` (no padding needed) under `rules` and lists every field's decision. On a
  // drop other than None or Empty the field list is empty: decisions about half a line mislead.
  filters::DropReason decide(std::string_view line, const rules::RuleSet& rules,
                             std::vector<FieldDecision>& fields, filters::FilterCounters& counters);

private:
  filters::LineFilter filter_;
  simdjson::dom::parser parser_;
  std::string padded_;
  std::string out_;
};

// Fate of a decision reported by the filter.
Fate fateOf(filters::Decision decision);

// The path of the container holding `path` (`a.b[]` -> `a.b`, `a."x.y"` -> `a`); empty at
// the top.
std::string parentPath(std::string_view path);

// `path` for printing: every key in which one of `detectors`' patterns (values or keys) finds
// something is replaced by `<key:NAME>`. `detectors` is usually the shipped pii-detectors pack.
std::string printPath(std::string_view path, const rules::RuleSet& detectors);

} // namespace scrub::verify
