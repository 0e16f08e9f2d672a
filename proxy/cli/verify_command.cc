// `scrubproxy verify`: the offline log-leak test. Corpora go through exactly the filter the
// proxy runs; every forwarded line is searched for every canary in every form a re-encoder
// could produce; optionally, retry ids must survive. Exit 0 clean, 1 leak or lost id, 2 usage
// or input error. The live mode (against a running proxy) is not built yet.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sys/stat.h>

#include "proxy/cli/command_line.h"
#include "proxy/cli/commands.h"
#include "proxy/cli/rules_option.h"
#include "proxy/verify/canary_set.h"
#include "proxy/verify/verifier.h"

namespace scrub::cli {
namespace {

constexpr const char* kVerifyUsage =
    "usage: scrubproxy verify --rules R... --corpus FILE... --canaries FILE [--report FILE]\n"
    "                         [--expect-keep KEY,KEY] [--max-listed N] [--max-line-bytes N]\n"
    "                         [--max-depth N] [--quiet]\n";

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) {
      comma = text.size();
    }
    std::string item = text.substr(pos, comma - pos);
    while (!item.empty() && item.front() == ' ') {
      item.erase(item.begin());
    }
    while (!item.empty() && item.back() == ' ') {
      item.pop_back();
    }
    if (!item.empty()) {
      out.push_back(item);
    }
    pos = comma + 1;
  }
  return out;
}

int usageError(const std::string& message) {
  std::fprintf(stderr, "scrubproxy verify: %s\n%s", message.c_str(), kVerifyUsage);
  return 2;
}

// Reads a positive count option into `target`; false (after printing why) when it is not one.
bool positiveOption(const ParsedArgs& args, const char* name, uint64_t& target) {
  if (auto v = args.last(name)) {
    auto n = parseCount(name, *v);
    if (!n.ok() || *n == 0) {
      std::fprintf(stderr, "scrubproxy verify: %s: expected a positive integer\n", name);
      return false;
    }
    target = *n;
  }
  return true;
}

// The progress line: only for a person watching a terminal, never in logs or pipes.
class Progress {
public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  void update(const std::string& corpus, uint64_t bytes, uint64_t leaks) {
    if (!enabled_) {
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (shown_ && now - last_ < std::chrono::milliseconds(250)) {
      return;
    }
    last_ = now;
    shown_ = true;
    std::fprintf(stderr, "\r\033[Kverify: %s: %.1f MB, leaks %llu", corpus.c_str(),
                 static_cast<double>(bytes) / 1e6, static_cast<unsigned long long>(leaks));
    std::fflush(stderr);
  }
  void clear() {
    if (shown_) {
      std::fputs("\r\033[K", stderr);
      std::fflush(stderr);
      shown_ = false;
    }
  }

private:
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

} // namespace

int verifyCommand(const Args& args, const char* version) {
  auto parsed =
      parseArgs(args, {{"--rules", "--corpus", "--canaries", "--report", "--expect-keep",
                        "--max-listed", "--max-line-bytes", "--max-depth", "--target", "--capture"},
                       {"--quiet", "--live", "--help"}});
  if (!parsed.ok()) {
    return usageError(parsed.error().message);
  }
  if (parsed->has("--help")) {
    std::fputs(kVerifyUsage, stdout);
    return 0;
  }
  if (parsed->has("--live") || parsed->last("--target") || parsed->last("--capture")) {
    std::fprintf(stderr, "scrubproxy verify: --live (against a running proxy) is not available "
                         "yet; run verify offline on the rule files\n");
    return 2;
  }
  if (!parsed->positional.empty()) {
    return usageError("unexpected argument '" + parsed->positional.front() +
                      "' (repeat --corpus or --rules for each file)");
  }
  const auto& corpora = parsed->all("--corpus");
  if (corpora.empty()) {
    return usageError("--corpus is required");
  }
  if (parsed->all("--rules").empty()) {
    return usageError("--rules is required (a leak test names the rules it proves)");
  }
  const auto canaries_path = parsed->last("--canaries");
  if (!canaries_path) {
    return usageError("--canaries is required");
  }
  verify::VerifyOptions options;
  uint64_t max_line = options.limits.max_line_bytes;
  uint64_t max_depth = options.limits.max_depth;
  if (!positiveOption(*parsed, "--max-line-bytes", max_line) ||
      !positiveOption(*parsed, "--max-depth", max_depth) ||
      !positiveOption(*parsed, "--max-listed", options.max_listed)) {
    return 2;
  }
  options.limits.max_line_bytes = max_line;
  options.limits.max_depth = max_depth;
  if (auto keep = parsed->last("--expect-keep")) {
    options.expect_keep = splitList(*keep);
    if (options.expect_keep.empty()) {
      return usageError("--expect-keep: expected keys such as '_id,_xform_id'");
    }
  }
  // Every input is checked before the first line is read: a typo in the last corpus name must
  // not cost a gigabyte-long run.
  for (const auto& corpus : corpora) {
    struct stat st {};
    if (corpus != "-" && (::stat(corpus.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
                          ::access(corpus.c_str(), R_OK) != 0)) {
      std::fprintf(stderr, "scrubproxy verify: %s: cannot read corpus\n", corpus.c_str());
      return 2;
    }
  }
  const auto rules = loadRulesOrReport(parsed->all("--rules"), "verify");
  if (!rules) {
    return 2;
  }
  auto canaries = verify::CanarySet::fromFile(*canaries_path);
  if (!canaries.ok()) {
    std::fprintf(stderr, "scrubproxy verify: %s\n", canaries.error().message.c_str());
    return 2;
  }

  Progress progress(!parsed->has("--quiet") && ::isatty(2) == 1);
  options.progress = [&](const std::string& corpus, uint64_t bytes, uint64_t leaks) {
    progress.update(corpus, bytes, leaks);
  };
  verify::Verifier verifier(rules, *canaries, options);
  for (const auto& corpus : corpora) {
    auto status = verifier.runCorpus(corpus);
    progress.clear();
    if (!status.ok()) {
      std::fprintf(stderr, "scrubproxy verify: %s\n", status.error().message.c_str());
      return 2;
    }
  }
  const verify::VerifyReport report = verifier.report(version, *canaries_path);
  if (auto path = parsed->last("--report")) {
    std::ofstream out(*path, std::ios::binary | std::ios::trunc);
    out << verify::reportJson(report);
    out.close();
    if (!out) {
      std::fprintf(stderr, "scrubproxy verify: %s: cannot write report\n", path->c_str());
      return 2;
    }
  }
  if (!parsed->has("--quiet") || !report.clean()) {
    std::fputs(verify::reportSummary(report).c_str(), stdout);
  }
  std::fflush(stdout);
  return report.clean() ? 0 : 1;
}

} // namespace scrub::cli
