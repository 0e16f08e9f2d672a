// `scrubproxy coverage`: every key path seen in a corpus, how often, and how the rules decided
// it. Paths no rule names come first: a new form field shows up there before it shows up in a
// log. Values are never printed; keys that a detector recognises as data are elided.

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <unordered_map>

#include "proxy/cli/command_line.h"
#include "proxy/cli/commands.h"
#include "proxy/cli/rules_option.h"
#include "proxy/verify/numbered_lines.h"
#include "proxy/verify/path_decisions.h"

#include <fcntl.h>
#include <unistd.h>

namespace scrub::cli {
namespace {

constexpr const char* kCoverageUsage =
    "usage: scrubproxy coverage --rules R... --corpus FILE... [--max-paths N]\n"
    "                           [--max-line-bytes N] [--max-depth N]\n";

struct PathStats {
  uint64_t seen = 0;
  bool unnamed = false;
  std::map<std::string, uint64_t> decisions;
};

std::string decisionKey(const verify::FieldDecision& d) {
  if (d.inherited) {
    return d.label + " with its container" + (d.rule.empty() ? "" : " by " + d.rule);
  }
  if (d.label == "passed" && !d.rule.empty()) {
    return "passed inside " + d.rule;
  }
  return d.rule.empty() ? d.label : d.label + " by " + d.rule;
}

void printSection(const char* title,
                  const std::vector<std::pair<std::string, const PathStats*>>& rows) {
  std::printf("\n%s (%zu paths)\n", title, rows.size());
  if (rows.empty()) {
    return;
  }
  size_t width = 4;
  for (const auto& [path, stats] : rows) {
    width = std::max(width, path.size());
  }
  width = std::min<size_t>(width, 60);
  std::printf("  %10s  %-*s  %s\n", "seen", static_cast<int>(width), "path", "decided");
  for (const auto& [path, stats] : rows) {
    std::string decided;
    for (const auto& [key, count] : stats->decisions) {
      decided += (decided.empty() ? "" : "; ") + key + " " + std::to_string(count);
    }
    std::printf("  %10llu  %-*s  %s\n", static_cast<unsigned long long>(stats->seen),
                static_cast<int>(width), path.c_str(), decided.c_str());
  }
}

} // namespace

int coverageCommand(const Args& args) {
  auto parsed =
      parseArgs(args, {{"--rules", "--corpus", "--max-paths", "--max-line-bytes", "--max-depth"},
                       {"--help"}});
  if (!parsed.ok()) {
    std::fprintf(stderr, "scrubproxy coverage: %s\n%s", parsed.error().message.c_str(),
                 kCoverageUsage);
    return 2;
  }
  if (parsed->has("--help")) {
    std::fputs(kCoverageUsage, stdout);
    return 0;
  }
  const auto& corpora = parsed->all("--corpus");
  if (corpora.empty() || !parsed->positional.empty()) {
    std::fprintf(stderr, "scrubproxy coverage: %s\n%s",
                 corpora.empty() ? "--corpus is required" : "repeat --corpus for each file",
                 kCoverageUsage);
    return 2;
  }
  filters::FilterLimits limits;
  uint64_t max_paths = 100000;
  for (const auto& [name, target] :
       {std::pair<const char*, uint64_t*>{"--max-paths", &max_paths},
        std::pair<const char*, uint64_t*>{"--max-line-bytes", &limits.max_line_bytes},
        std::pair<const char*, uint64_t*>{"--max-depth", &limits.max_depth}}) {
    if (auto v = parsed->last(name)) {
      auto n = parseCount(name, *v);
      if (!n.ok() || *n == 0) {
        std::fprintf(stderr, "scrubproxy coverage: %s: expected a positive integer\n", name);
        return 2;
      }
      *target = *n;
    }
  }
  const auto rules = loadRulesOrReport(parsed->all("--rules"), "coverage");
  if (!rules) {
    return 2;
  }
  // Keys that are data (an e-mail address used as a key) are elided with the shipped detectors.
  auto elide = rules::loadRules({"builtin:pii-detectors"});
  if (!elide.ok()) {
    std::fprintf(stderr, "scrubproxy coverage: %s\n", elide.error().message.c_str());
    return 2;
  }

  verify::PathDecider decider(limits);
  filters::FilterCounters counters;
  std::unordered_map<std::string, PathStats> paths;
  uint64_t paths_dropped = 0;
  std::vector<verify::FieldDecision> fields;
  for (const auto& corpus : corpora) {
    const int fd = corpus == "-" ? 0 : ::open(corpus.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::fprintf(stderr, "scrubproxy coverage: %s: cannot open corpus\n", corpus.c_str());
      return 2;
    }
    const verify::NumberedSink sink{
        [&](uint64_t, std::string_view line, size_t) {
          decider.decide(line, *rules, fields, counters);
          for (const auto& d : fields) {
            auto it = paths.find(d.path);
            if (it == paths.end()) {
              if (paths.size() >= max_paths) {
                ++paths_dropped;
                continue;
              }
              it = paths.emplace(d.path, PathStats{}).first;
            }
            PathStats& stats = it->second;
            if (d.occurrence) {
              ++stats.seen;
            }
            stats.unnamed = stats.unnamed || !d.named;
            ++stats.decisions[decisionKey(d)];
          }
        },
        [&](uint64_t) {
          ++counters.lines_in;
          ++counters.dropped[static_cast<size_t>(filters::DropReason::TooLong)];
        },
        [&](uint64_t) {
          ++counters.lines_in;
          ++counters.dropped[static_cast<size_t>(filters::DropReason::Truncated)];
        },
        {}};
    const bool ok = verify::readNumberedLines(fd, limits.max_line_bytes, sink);
    if (fd != 0) {
      ::close(fd);
    }
    if (!ok) {
      std::fprintf(stderr, "scrubproxy coverage: %s: read error\n", corpus.c_str());
      return 2;
    }
  }

  std::vector<std::pair<std::string, const PathStats*>> unnamed;
  std::vector<std::pair<std::string, const PathStats*>> named;
  for (const auto& [path, stats] : paths) {
    (stats.unnamed ? unnamed : named).emplace_back(verify::printPath(path, *elide->rules), &stats);
  }
  auto order = [](const auto& a, const auto& b) {
    return a.second->seen != b.second->seen ? a.second->seen > b.second->seen : a.first < b.first;
  };
  std::sort(unnamed.begin(), unnamed.end(), order);
  std::sort(named.begin(), named.end(), order);

  std::printf("scrubproxy coverage: rules %s (%s); lines %llu, forwarded %llu", rules->name.c_str(),
              std::string(rules::policyName(rules->policy)).c_str(),
              static_cast<unsigned long long>(counters.lines_in),
              static_cast<unsigned long long>(counters.lines_out));
  std::string reasons;
  for (size_t i = 1; i < counters.dropped.size(); ++i) {
    if (counters.dropped[i] > 0) {
      reasons += (reasons.empty() ? "" : ", ") + std::string(filters::kDropReasonNames[i]) + " " +
                 std::to_string(counters.dropped[i]);
    }
  }
  std::printf("%s%s%s\n", reasons.empty() ? "" : ", dropped: ", reasons.c_str(),
              reasons.empty() ? "" : " (fields of lines that are not JSON are not listed)");
  printSection("not named by any rule", unnamed);
  printSection("named by rules", named);
  if (paths_dropped > 0) {
    std::printf("\n%llu field decisions on paths beyond --max-paths %llu not listed\n",
                static_cast<unsigned long long>(paths_dropped),
                static_cast<unsigned long long>(max_paths));
  }
  return 0;
}

} // namespace scrub::cli
