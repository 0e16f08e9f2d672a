// `scrubproxy verify`: the offline log-leak test. Corpora go through exactly the filter the
// proxy runs; every forwarded line is searched for every canary in every form a re-encoder
// could produce; optionally, retry ids must survive. Exit 0 clean, 1 leak or lost id, 2 usage
// or input error. With --live, the corpus goes to a running proxy over TCP and verify acts as
// its sink (proxy/verify/live_session.h): missing records fail the run too.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sys/stat.h>

#include "proxy/cli/command_line.h"
#include "proxy/cli/commands.h"
#include "proxy/cli/rules_option.h"
#include "proxy/verify/canary_set.h"
#include "proxy/verify/live_session.h"
#include "proxy/verify/verifier.h"

namespace scrub::cli {
namespace {

constexpr const char* kVerifyUsage =
    "usage: scrubproxy verify --rules R... --corpus FILE... --canaries FILE [--report FILE]\n"
    "                         [--expect-keep KEY,KEY] [--max-listed N] [--max-line-bytes N]\n"
    "                         [--max-depth N] [--quiet]\n"
    "       scrubproxy verify --live --target tcp://HOST:PORT|http(s)://HOST:PORT/PATH|-\n"
    "                         --capture tcp|http://HOST:PORT [--target-api-key-env NAME]\n"
    "                         [--target-ca FILE]\n"
    "                         --corpus FILE... --canaries FILE [--rules R...] [--report FILE]\n"
    "                         [--expect-keep KEY,KEY] [--deadline 30s]\n"
    "  --live: listen on --capture (port 0: any; the bound address is printed on stderr) as the\n"
    "  proxy's sink, send the corpus to --target ('-': read the address from stdin after the\n"
    "  capture address is printed), wait for every expected record or the deadline.\n";

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

// "30s", "500ms", "2m" or plain seconds.
std::optional<std::chrono::milliseconds> parseDeadline(const std::string& text) {
  size_t digits = 0;
  uint64_t value = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9' && value < 1000000) {
    value = value * 10 + static_cast<uint64_t>(text[digits] - '0');
    ++digits;
  }
  if (digits == 0 || value == 0 || value >= 1000000) {
    return std::nullopt;
  }
  const std::string unit = text.substr(digits);
  if (unit.empty() || unit == "s") {
    return std::chrono::milliseconds(value * 1000);
  }
  if (unit == "ms") {
    return std::chrono::milliseconds(value);
  }
  if (unit == "m") {
    return std::chrono::milliseconds(value * 60000);
  }
  return std::nullopt;
}

} // namespace

int verifyCommand(const Args& args, const char* version) {
  auto parsed = parseArgs(args, {{"--rules", "--corpus", "--canaries", "--report", "--expect-keep",
                                  "--max-listed", "--max-line-bytes", "--max-depth", "--target",
                                  "--capture", "--deadline", "--target-api-key-env", "--target-ca"},
                                 {"--quiet", "--live", "--help"}});
  if (!parsed.ok()) {
    return usageError(parsed.error().message);
  }
  if (parsed->has("--help")) {
    std::fputs(kVerifyUsage, stdout);
    return 0;
  }
  const bool live = parsed->has("--live");
  verify::LiveOptions live_options;
  if (live) {
    const auto target = parsed->last("--target");
    const auto capture = parsed->last("--capture");
    if (!target || !capture) {
      return usageError("--live needs --target and --capture");
    }
    auto capture_address = verify::parseTcpAddress(*capture, true, /*allow_http=*/true);
    if (!capture_address.ok()) {
      return usageError("--capture " + capture_address.error().message);
    }
    live_options.capture = *capture_address;
    if (*target == "-") {
      live_options.target_from_stdin = true;
    } else if (target->rfind("http://", 0) == 0 || target->rfind("https://", 0) == 0) {
      live_options.http_target = *target;
    } else {
      auto target_address = verify::parseTcpAddress(*target, false);
      if (!target_address.ok()) {
        return usageError("--target " + target_address.error().message);
      }
      live_options.target = *target_address;
    }
    if (auto name = parsed->last("--target-api-key-env")) {
      const char* key = std::getenv(name->c_str());
      if (key == nullptr || *key == '\0') {
        return usageError("--target-api-key-env: environment variable " + *name + " is not set");
      }
      live_options.target_api_key = key;
    }
    if (auto ca = parsed->last("--target-ca")) {
      live_options.target_ca_file = *ca;
    }
    if (auto deadline = parsed->last("--deadline")) {
      auto ms = parseDeadline(*deadline);
      if (!ms) {
        return usageError("--deadline: expected a duration such as 30s, 500ms or 2m");
      }
      live_options.deadline = *ms;
    }
  } else if (parsed->last("--target") || parsed->last("--capture") || parsed->last("--deadline")) {
    return usageError("--target, --capture and --deadline need --live");
  }
  if (!parsed->positional.empty()) {
    return usageError("unexpected argument '" + parsed->positional.front() +
                      "' (repeat --corpus or --rules for each file)");
  }
  const auto& corpora = parsed->all("--corpus");
  if (corpora.empty()) {
    return usageError("--corpus is required");
  }
  std::vector<std::string> rule_specs = parsed->all("--rules");
  if (live && rule_specs.empty()) {
    rule_specs.emplace_back("openfn-retry-ids"); // the default pack `scrubproxy run` uses
  }
  if (rule_specs.empty()) {
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
    if (live && corpus == "-") {
      return usageError("--live: the corpus must be a file (it is read twice)");
    }
    struct stat st {};
    if (corpus != "-" && (::stat(corpus.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
                          ::access(corpus.c_str(), R_OK) != 0)) {
      std::fprintf(stderr, "scrubproxy verify: %s: cannot read corpus\n", corpus.c_str());
      return 2;
    }
  }
  const auto rules = loadRulesOrReport(rule_specs, "verify");
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
  verify::VerifyReport report = verifier.report(version, *canaries_path);
  std::string json;
  std::string live_summary;
  bool clean = report.clean();
  if (live) {
    live_options.limits = options.limits;
    live_options.max_listed = options.max_listed;
    auto session = verify::runLiveSession(corpora, *rules, *canaries, live_options);
    if (!session.ok()) {
      std::fprintf(stderr, "scrubproxy verify: %s\n", session.error().message.c_str());
      return 2;
    }
    // Leaks are what the running proxy sent, not what the rule files would send; lost ids stay
    // the offline census (a missing record fails the run on its own).
    report.leaks_total = session->leaks_total;
    report.leaks_by_form = session->leaks_by_form;
    report.leaks = session->leaks;
    clean = report.clean() && session->clean();
    json = verify::reportJson(report);
    if (!clean && report.clean()) {
      const std::string kClean = "\"result\":\"clean\"";
      if (auto at = json.find(kClean); at != std::string::npos) {
        json.replace(at, kClean.size(), "\"result\":\"missing\"");
      }
    }
    if (auto end = json.rfind('}'); end != std::string::npos) {
      json.insert(end, ",\"live\":" + verify::liveJson(*session));
    }
    live_summary = verify::liveSummary(*session);
  } else {
    json = verify::reportJson(report);
  }
  if (auto path = parsed->last("--report")) {
    std::ofstream out(*path, std::ios::binary | std::ios::trunc);
    out << json;
    out.close();
    if (!out) {
      std::fprintf(stderr, "scrubproxy verify: %s: cannot write report\n", path->c_str());
      return 2;
    }
  }
  if (!parsed->has("--quiet") || !clean) {
    std::fputs(verify::reportSummary(report).c_str(), stdout);
    std::fputs(live_summary.c_str(), stdout);
  }
  std::fflush(stdout);
  return clean ? 0 : 1;
}

} // namespace scrub::cli
