// `scrubproxy diff OLD NEW [--corpus FILE]...`: what can leave under the new rules that could
// not under the old ones, statically (rule by rule) and, with a corpus, by example paths. Exit 0
// when nothing widened, 1 when something did or may have (a CI gate for rule changes), 2 on a
// usage or input error. Values are never printed.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <unordered_map>

#include "proxy/cli/command_line.h"
#include "proxy/cli/commands.h"
#include "proxy/cli/rules_option.h"
#include "proxy/verify/numbered_lines.h"
#include "proxy/verify/path_decisions.h"
#include "proxy/verify/rule_diff.h"

namespace scrub::cli {
namespace {

constexpr const char* kDiffUsage =
    "usage: scrubproxy diff OLD_RULES NEW_RULES [--corpus FILE]... [--max-paths N]\n"
    "       scrubproxy diff --old R [--old R]... --new R [--new R]... [--corpus FILE]...\n"
    "  each side is a rules file or pack, or several joined with ',' (loaded as one rule set)\n";

std::vector<std::string> splitSpecs(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) {
      comma = text.size();
    }
    if (comma > pos) {
      out.push_back(text.substr(pos, comma - pos));
    }
    pos = comma + 1;
  }
  return out;
}

// Per path, over the corpus: field occurrences that now leave and did not before.
struct PathWidening {
  uint64_t lines = 0;           // lines in which this path leaves more than before
  uint64_t newly_unaltered = 0; // occurrences that now leave as they are
  uint64_t newly_altered = 0;   // occurrences that now leave masked or hashed, or more of them
  std::map<std::string, uint64_t> old_labels;
  std::map<std::string, uint64_t> new_labels;
};

struct LineLeaves {
  uint64_t unaltered = 0;
  uint64_t any = 0;
  std::string label;
};

std::string labelOf(const verify::FieldDecision& d) {
  std::string label = d.label;
  if (!d.rule.empty()) {
    label += " by " + d.rule;
  }
  return d.inherited ? label + " (with its container)" : label;
}

void tally(const std::vector<verify::FieldDecision>& fields,
           std::unordered_map<std::string, LineLeaves>& out) {
  out.clear();
  for (const auto& d : fields) {
    LineLeaves& leaves = out[d.path];
    if (leaves.label.empty() || leaves.label == "walked") {
      leaves.label = labelOf(d);
    }
    if (!d.occurrence || d.fate == verify::Fate::Structure) {
      continue;
    }
    if (d.fate != verify::Fate::Removed) {
      ++leaves.any;
      leaves.unaltered += d.fate == verify::Fate::Leaves ? 1 : 0;
    }
  }
}

std::string topLabel(const std::map<std::string, uint64_t>& labels) {
  std::string best = "not seen";
  uint64_t count = 0;
  for (const auto& [label, n] : labels) {
    if (n > count) {
      best = label;
      count = n;
    }
  }
  return best;
}

} // namespace

int diffCommand(const Args& args) {
  auto parsed = parseArgs(
      args, {{"--old", "--new", "--corpus", "--max-paths", "--max-line-bytes", "--max-depth"},
             {"--help"}});
  if (!parsed.ok()) {
    std::fprintf(stderr, "scrubproxy diff: %s\n%s", parsed.error().message.c_str(), kDiffUsage);
    return 2;
  }
  if (parsed->has("--help")) {
    std::fputs(kDiffUsage, stdout);
    return 0;
  }
  std::vector<std::string> old_specs;
  std::vector<std::string> new_specs;
  for (const auto& spec : parsed->all("--old")) {
    for (auto& s : splitSpecs(spec)) {
      old_specs.push_back(std::move(s));
    }
  }
  for (const auto& spec : parsed->all("--new")) {
    for (auto& s : splitSpecs(spec)) {
      new_specs.push_back(std::move(s));
    }
  }
  const auto& positional = parsed->positional;
  if (!positional.empty()) {
    if (positional.size() != 2 || !old_specs.empty() || !new_specs.empty()) {
      std::fprintf(stderr, "scrubproxy diff: give OLD_RULES NEW_RULES, or --old and --new\n%s",
                   kDiffUsage);
      return 2;
    }
    old_specs = splitSpecs(positional[0]);
    new_specs = splitSpecs(positional[1]);
  }
  if (old_specs.empty() || new_specs.empty()) {
    std::fprintf(stderr, "scrubproxy diff: both the old and the new rules are needed\n%s",
                 kDiffUsage);
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
        std::fprintf(stderr, "scrubproxy diff: %s: expected a positive integer\n", name);
        return 2;
      }
      *target = *n;
    }
  }
  const auto old_rules = loadRulesOrReport(old_specs, "diff (old rules)");
  if (!old_rules) {
    return 2;
  }
  const auto new_rules = loadRulesOrReport(new_specs, "diff (new rules)");
  if (!new_rules) {
    return 2;
  }
  auto elide = rules::loadRules({"builtin:pii-detectors"});
  if (!elide.ok()) {
    std::fprintf(stderr, "scrubproxy diff: %s\n", elide.error().message.c_str());
    return 2;
  }

  const auto findings = verify::diffRuleSets(*old_rules, *new_rules);
  std::printf("scrubproxy diff: old %s (%s) -> new %s (%s)\n", old_rules->name.c_str(),
              std::string(rules::policyName(old_rules->policy)).c_str(), new_rules->name.c_str(),
              std::string(rules::policyName(new_rules->policy)).c_str());
  bool widened = false;
  for (const auto kind :
       {verify::DiffFinding::Kind::Widened, verify::DiffFinding::Kind::MayWiden,
        verify::DiffFinding::Kind::Narrowed, verify::DiffFinding::Kind::Changed}) {
    size_t count = 0;
    for (const auto& f : findings) {
      count += f.kind == kind ? 1 : 0;
    }
    if (count == 0) {
      continue;
    }
    widened = widened || kind == verify::DiffFinding::Kind::Widened ||
              kind == verify::DiffFinding::Kind::MayWiden;
    std::printf("\n%s (%zu):\n", verify::kindName(kind), count);
    for (const auto& f : findings) {
      if (f.kind == kind) {
        std::printf("  %s: %s\n", f.subject.c_str(), f.detail.c_str());
      }
    }
  }
  if (findings.empty()) {
    std::printf("\nno rule changes that affect what leaves\n");
  }

  const auto& corpora = parsed->all("--corpus");
  if (!corpora.empty()) {
    verify::PathDecider old_decider(limits);
    verify::PathDecider new_decider(limits);
    filters::FilterCounters old_counters;
    filters::FilterCounters new_counters;
    std::vector<verify::FieldDecision> old_fields;
    std::vector<verify::FieldDecision> new_fields;
    std::unordered_map<std::string, LineLeaves> old_leaves;
    std::unordered_map<std::string, LineLeaves> new_leaves;
    std::unordered_map<std::string, PathWidening> paths;
    uint64_t paths_dropped = 0;
    uint64_t lines_newly_forwarded = 0;
    for (const auto& corpus : corpora) {
      const int fd = corpus == "-" ? 0 : ::open(corpus.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        std::fprintf(stderr, "scrubproxy diff: %s: cannot open corpus\n", corpus.c_str());
        return 2;
      }
      const verify::NumberedSink sink{
          [&](uint64_t, std::string_view line, size_t) {
            const bool old_out = old_decider.decide(line, *old_rules, old_fields, old_counters) ==
                                 filters::DropReason::None;
            const bool new_out = new_decider.decide(line, *new_rules, new_fields, new_counters) ==
                                 filters::DropReason::None;
            lines_newly_forwarded += new_out && !old_out ? 1 : 0;
            // Fields are compared by their decisions ("could it leave"), not by whether their
            // line happened to be forwarded: an envelope field kept by both rule sets is no news
            // because a newly kept sibling now forwards its line.
            tally(old_fields, old_leaves);
            tally(new_fields, new_leaves);
            for (const auto& [path, now] : new_leaves) {
              const auto before_it = old_leaves.find(path);
              const LineLeaves before = before_it == old_leaves.end()
                                            ? LineLeaves{0, 0, "not reported"}
                                            : before_it->second;
              if (now.unaltered <= before.unaltered && now.any <= before.any) {
                continue;
              }
              auto it = paths.find(path);
              if (it == paths.end()) {
                if (paths.size() >= max_paths) {
                  ++paths_dropped;
                  continue;
                }
                it = paths.emplace(path, PathWidening{}).first;
              }
              PathWidening& w = it->second;
              ++w.lines;
              const uint64_t unaltered =
                  now.unaltered > before.unaltered ? now.unaltered - before.unaltered : 0;
              w.newly_unaltered += unaltered;
              const uint64_t any = now.any > before.any ? now.any - before.any : 0;
              w.newly_altered += any > unaltered ? any - unaltered : 0;
              ++w.old_labels[before.label];
              ++w.new_labels[now.label];
            }
          },
          [&](uint64_t) {},
          [&](uint64_t) {},
          {}};
      const bool ok = verify::readNumberedLines(fd, limits.max_line_bytes, sink);
      if (fd != 0) {
        ::close(fd);
      }
      if (!ok) {
        std::fprintf(stderr, "scrubproxy diff: %s: read error\n", corpus.c_str());
        return 2;
      }
    }
    std::vector<std::pair<std::string, const PathWidening*>> rows;
    for (const auto& [path, w] : paths) {
      rows.emplace_back(verify::printPath(path, *elide->rules), &w);
    }
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
      const uint64_t na = a.second->newly_unaltered + a.second->newly_altered;
      const uint64_t nb = b.second->newly_unaltered + b.second->newly_altered;
      return na != nb ? na > nb : a.first < b.first;
    });
    std::printf("\nby example (%llu lines; forwarded old %llu, new %llu; %llu lines newly "
                "forwarded):\n",
                static_cast<unsigned long long>(new_counters.lines_in),
                static_cast<unsigned long long>(old_counters.lines_out),
                static_cast<unsigned long long>(new_counters.lines_out),
                static_cast<unsigned long long>(lines_newly_forwarded));
    if (rows.empty()) {
      std::printf("  no path leaves more under the new rules\n");
    } else {
      std::printf("  %9s %9s %7s  %s\n", "unaltered", "altered", "lines", "path: old -> new");
      for (const auto& [path, w] : rows) {
        std::printf("  %9llu %9llu %7llu  %s: %s -> %s\n",
                    static_cast<unsigned long long>(w->newly_unaltered),
                    static_cast<unsigned long long>(w->newly_altered),
                    static_cast<unsigned long long>(w->lines), path.c_str(),
                    topLabel(w->old_labels).c_str(), topLabel(w->new_labels).c_str());
      }
      widened = true;
    }
    if (paths_dropped > 0) {
      std::printf("  ... %llu more widened fields on paths beyond --max-paths\n",
                  static_cast<unsigned long long>(paths_dropped));
    }
  }
  std::printf("\nresult: %s\n", widened ? "widened" : "not widened");
  return widened ? 1 : 0;
}

} // namespace scrub::cli
