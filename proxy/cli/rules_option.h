#pragma once

// Loading `--rules` for a command: errors and lint warnings go to stderr as file:line:col lines.

#include <string>
#include <vector>

#include "rules/rule_loader.h"

namespace scrub::cli {

// Null (after printing why) when the rules do not load.
rules::RuleSetPtr loadRulesOrReport(const std::vector<std::string>& specs, const char* command);

} // namespace scrub::cli
