// `scrubproxy explain`: for each input line, every field's path, what happened to it and which
// rule decided. Values are elided unless --show-values: explain output is meant to be pasted
// into tickets.

#include <cstdio>
#include <string>

#include "filters/line_filter.h"
#include "proxy/cli/command_line.h"
#include "proxy/cli/commands.h"
#include "proxy/cli/rules_option.h"
#include "proxy/cli/stdin_lines.h"

namespace scrub::cli {
namespace {

// Pads with spaces to `column`, always leaving at least one.
void padTo(std::string& line, size_t column) {
  line.append(line.size() < column ? column - line.size() : 1, ' ');
}

class PrintingTrace : public filters::FilterTrace {
public:
  void onField(std::string_view path, filters::Decision decision, std::string_view rule,
               std::string_view value) override {
    std::string line = "  ";
    line.append(path.empty() ? std::string_view(".") : path);
    padTo(line, 34);
    line.append(filters::decisionName(decision));
    if (!rule.empty()) {
      padTo(line, 54);
      line.append(rule);
    }
    if (!value.empty()) {
      line.append("  = ");
      line.append(value);
    }
    line.push_back('\n');
    lines_.append(line);
  }
  std::string take() { return std::exchange(lines_, {}); }

private:
  std::string lines_;
};

} // namespace

int explainCommand(const Args& args) {
  auto parsed = parseArgs(args, {{"--rules"}, {"--show-values"}});
  if (!parsed.ok()) {
    std::fprintf(stderr, "scrubproxy explain: %s\n", parsed.error().message.c_str());
    return 2;
  }
  const auto rules = loadRulesOrReport(parsed->all("--rules"), "explain");
  if (!rules) {
    return 1;
  }
  filters::LineFilter filter;
  filter.setTraceValues(parsed->has("--show-values"));
  filters::FilterCounters counters;
  PrintingTrace trace;
  std::string out;
  uint64_t number = 0;
  proxy::LineFramer framer(filter.limits().max_line_bytes);
  proxy::LineFramer::Sink sink{
      [&](std::string_view line, size_t capacity) {
        ++number;
        const auto reason = filter.filter(line, capacity, *rules, out, counters, &trace);
        const std::string fields = trace.take();
        if (reason == filters::DropReason::None) {
          std::printf("line %llu: forwarded (%zu bytes)\n%s",
                      static_cast<unsigned long long>(number), out.size(), fields.c_str());
        } else {
          // Field decisions of a line that failed to parse half-way would mislead: omit them.
          const bool show = reason == filters::DropReason::Empty;
          std::printf("line %llu: dropped: %s\n%s", static_cast<unsigned long long>(number),
                      std::string(filters::dropReasonName(reason)).c_str(),
                      show ? fields.c_str() : "");
        }
      },
      [&] {
        std::printf("line %llu: dropped: too_long\n", static_cast<unsigned long long>(++number));
      },
      [&] {
        std::printf("line %llu: dropped: truncated\n", static_cast<unsigned long long>(++number));
      }};
  if (!readLines(0, framer, sink)) {
    std::perror("scrubproxy explain: reading stdin");
    return 1;
  }
  return 0;
}

} // namespace scrub::cli
