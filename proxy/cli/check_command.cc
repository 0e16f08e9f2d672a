// `scrubproxy check`: compile and lint rule files; exit 0 when they load, 1 when they do not
// (or, with --strict, when the lint found anything).

#include <cstdio>

#include "proxy/cli/command_line.h"
#include "proxy/cli/commands.h"
#include "rules/rule_loader.h"

namespace scrub::cli {

int checkCommand(const Args& args) {
  auto parsed = parseArgs(args, {{"--rules"}, {"--strict"}});
  if (!parsed.ok()) {
    std::fprintf(stderr, "scrubproxy check: %s\n", parsed.error().message.c_str());
    return 2;
  }
  std::vector<std::string> specs = parsed->all("--rules");
  for (const auto& p : parsed->positional) {
    specs.push_back(p);
  }
  auto loaded = rules::loadRules(specs);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
    return 1;
  }
  for (const auto& warning : loaded->warnings) {
    std::fprintf(stderr, "%s\n", warning.str().c_str());
  }
  const auto& r = *loaded->rules;
  std::printf("ok: %s (%s, %zu keep, %zu deny, %zu file%s, fingerprint %s)%s\n", r.name.c_str(),
              std::string(rules::policyName(r.policy)).c_str(), r.keep.size(), r.detectors.size(),
              r.sources.size(), r.sources.size() == 1 ? "" : "s", r.fingerprint().c_str(),
              loaded->warnings.empty()
                  ? ""
                  : (" with " + std::to_string(loaded->warnings.size()) + " warning(s)").c_str());
  return parsed->has("--strict") && !loaded->warnings.empty() ? 1 : 0;
}

} // namespace scrub::cli
