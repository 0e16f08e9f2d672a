#include "proxy/cli/rules_option.h"

#include <cstdio>

namespace scrub::cli {

rules::RuleSetPtr loadRulesOrReport(const std::vector<std::string>& specs, const char* command) {
  auto loaded = rules::loadRules(specs);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
    std::fprintf(stderr, "scrubproxy %s: rules not loaded\n", command);
    return nullptr;
  }
  for (const auto& warning : loaded->warnings) {
    std::fprintf(stderr, "%s\n", warning.str().c_str());
  }
  return loaded->rules;
}

} // namespace scrub::cli
