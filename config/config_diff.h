#pragma once

// What changed between two versions of a config file, for hot reload: the running proxy applies
// new rule lists and reports everything else as needing a restart. Compared as YAML trees, so
// comments, quoting and layout do not count as changes.

#include <string>
#include <string_view>
#include <vector>

#include "rules/result.h"

namespace scrub::config {

// The top-level keys whose values differ (`limits`, `sinks`, …), in file order. Inside
// `listeners`, a change only to `rules` lists is reported as `listeners.rules`; any other change
// there as `listeners`. An error when either text is not YAML.
Result<std::vector<std::string>> changedSections(std::string_view before, std::string_view after);

} // namespace scrub::config
