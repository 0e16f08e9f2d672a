#pragma once

// Finds places where a rule set contradicts itself, before it is ever used:
// - a deny detector that can match values a keep rule's value contract allows (a local phone
//   pattern against 9-digit ids would silently eat the retry ids);
// - a keep rule that another keep rule makes pointless (shadowed);
// - a keep rule no field can reach (a key-only detector always denies a key on its path).
// Pure; run by `check` and by every load.

#include <vector>

#include "rules/rule_loader.h"

namespace scrub::rules {

std::vector<LintFinding> lintRuleSet(const RuleSet& rules);

} // namespace scrub::rules
