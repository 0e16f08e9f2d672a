#pragma once

// `scrubproxy diff`, statically: what can leave under new rules that could not under old ones.
// Compares two compiled rule sets (after includes) rule by rule: keep rules added or widened
// (paths newly covered, contracts dropped or changed), detectors removed or weakened (pattern,
// validator, keys, action), policy and settings. Where a change cannot be decided exactly (two
// regular expressions), examples are drawn from the rule text with the lint's regex sampler; a
// change no example shows wider is still reported, as "may widen".
//
// Pure; never sees payload. Examples are drawn from rule text, not from data.

#include <string>
#include <vector>

#include "rules/rule_set.h"

namespace scrub::verify {

struct DiffFinding {
  enum class Kind {
    Widened,  // something can leave that could not before
    MayWiden, // changed in a way that is not provably narrower
    Narrowed,
    Changed, // no effect on what can leave (settings, labels)
  };
  Kind kind;
  std::string subject; // "policy", "keep:message[]", "detector email", "setting drop_empty"
  std::string detail;
};

std::vector<DiffFinding> diffRuleSets(const rules::RuleSet& old_rules,
                                      const rules::RuleSet& new_rules);

const char* kindName(DiffFinding::Kind kind);

} // namespace scrub::verify
