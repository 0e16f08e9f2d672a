// Fuzz target: rules/rule_loader. Any text either loads or fails with an Error that carries a
// position; a rule set that loads is run over a few fixed lines, and what it forwards must be
// valid JSON.

#include <cstdint>
#include <string>
#include <string_view>

#include "filters/line_filter.h"
#include "rules/rule_loader.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/json_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  scrub::rules::LoadOptions options;
  options.get_env = [](const char*) -> const char* { return nullptr; };
  auto loaded = scrub::rules::loadRulesFromText(text, "fuzz.yaml", options);
  if (!loaded.ok()) {
    SCRUB_FUZZ_CHECK(!loaded.error().message.empty(), "error without a message");
    return 0;
  }
  const auto& rules = *loaded->rules;
  static scrub::filters::LineFilter filter;
  scrub::filters::FilterCounters counters;
  counters.sizeFor(rules);
  std::string out;
  for (const std::string_view line :
       {std::string_view(R"({"level":"info","_id":42,"message":["a@b.example",{"x":[1,2]}]})"),
        std::string_view(R"({"a":{"b":{"c":"{\"d\":\"e\"}"}},"time":"1795397774154603532"})"),
        std::string_view(R"({"_id":"1","child/full_name":"X Y","n":-0.0,"e":1e400})")}) {
    if (filter.filterCopy(line, rules, out, counters) == scrub::filters::DropReason::None) {
      SCRUB_FUZZ_CHECK(scrub::fuzz::validJsonObject(out), "output is not a JSON object");
    }
  }
  return 0;
}
