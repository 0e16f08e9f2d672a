#pragma once

// Loads rule files (YAML, version 1) into a compiled, linted RuleSet. The control plane: every
// failure is an Error carrying `file:line:col: message`; nothing here throws to the caller.
//
// A rule spec is a file path or the name of a shipped pack (`openfn-retry-ids`, or explicitly
// `builtin:openfn-retry-ids`). Several specs load as one rule set: the first names it, the
// others contribute keep and deny entries like `include:` does; settings (policy, action, mask,
// hash_key, drop_empty, envelope) may be given in any of them but must not contradict.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/result.h"
#include "rules/rule_set.h"

namespace scrub::rules {

struct LintFinding {
  SourcePos pos;
  std::string message;

  std::string str() const { return pos.str() + ": warning: " + message; }
};

struct LoadedRules {
  RuleSetPtr rules;
  std::vector<LintFinding> warnings; // from lintRuleSet(); the rules load regardless
};

struct LoadOptions {
  // Where `${env}` of a hash key is read; tests replace it.
  std::function<const char*(const char*)> get_env;
};

Result<LoadedRules> loadRules(const std::vector<std::string>& specs, const LoadOptions& = {});

// Loads rules from text held in memory; `file_name` is used in messages and for relative
// includes (which resolve from the current directory when it has no folder part).
Result<LoadedRules> loadRulesFromText(std::string_view text, std::string_view file_name,
                                      const LoadOptions& = {});

} // namespace scrub::rules
