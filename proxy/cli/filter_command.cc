// `scrubproxy filter`: JSON lines on stdin, what policy allows on stdout, a summary on stderr.

#include <cstdio>
#include <string>

#include "filters/line_filter.h"
#include "proxy/cli/command_line.h"
#include "proxy/cli/commands.h"
#include "proxy/cli/rules_option.h"
#include "proxy/cli/stdin_lines.h"

namespace scrub::cli {
namespace {

std::string summary(const filters::FilterCounters& c) {
  std::string text = "scrubproxy filter: lines in " + std::to_string(c.lines_in) + ", out " +
                     std::to_string(c.lines_out) + ", dropped " + std::to_string(c.droppedTotal());
  std::string reasons;
  for (size_t i = 1; i < c.dropped.size(); ++i) {
    if (c.dropped[i] > 0) {
      reasons += (reasons.empty() ? "" : ", ") + std::string(filters::kDropReasonNames[i]) + " " +
                 std::to_string(c.dropped[i]);
    }
  }
  if (!reasons.empty()) {
    text += " (" + reasons + ")";
  }
  return text;
}

} // namespace

int filterCommand(const Args& args) {
  auto parsed = parseArgs(args, {{"--rules", "--max-line-bytes", "--max-depth"}, {"--quiet"}});
  if (!parsed.ok()) {
    std::fprintf(stderr, "scrubproxy filter: %s\n", parsed.error().message.c_str());
    return 2;
  }
  filters::FilterLimits limits;
  if (auto v = parsed->last("--max-line-bytes")) {
    auto n = parseCount("--max-line-bytes", *v);
    if (!n.ok() || *n == 0) {
      std::fprintf(stderr, "scrubproxy filter: --max-line-bytes: expected a positive integer\n");
      return 2;
    }
    limits.max_line_bytes = *n;
  }
  if (auto v = parsed->last("--max-depth")) {
    auto n = parseCount("--max-depth", *v);
    if (!n.ok() || *n == 0) {
      std::fprintf(stderr, "scrubproxy filter: --max-depth: expected a positive integer\n");
      return 2;
    }
    limits.max_depth = *n;
  }
  const auto rules = loadRulesOrReport(parsed->all("--rules"), "filter");
  if (!rules) {
    return 1;
  }
  filters::LineFilter filter(limits);
  filters::FilterCounters counters;
  std::string out;
  proxy::LineFramer framer(limits.max_line_bytes);
  std::string batch;
  auto flush = [&] {
    std::fwrite(batch.data(), 1, batch.size(), stdout);
    batch.clear();
  };
  proxy::LineFramer::Sink sink{
      [&](std::string_view line, size_t capacity) {
        if (filter.filter(line, capacity, *rules, out, counters) == filters::DropReason::None) {
          batch += out;
          batch.push_back('\n');
          if (batch.size() > (1 << 16)) {
            flush();
          }
        }
      },
      [&] {
        ++counters.lines_in;
        ++counters.dropped[static_cast<size_t>(filters::DropReason::TooLong)];
      },
      [&] {
        ++counters.lines_in;
        ++counters.dropped[static_cast<size_t>(filters::DropReason::Truncated)];
      }};
  const bool read_ok = readLines(0, framer, sink);
  flush();
  std::fflush(stdout);
  if (!parsed->has("--quiet")) {
    std::fprintf(stderr, "%s\n", summary(counters).c_str());
  }
  if (!read_ok) {
    std::perror("scrubproxy filter: reading stdin");
    return 1;
  }
  return 0;
}

} // namespace scrub::cli
