// Filter throughput per core over a generated corpus, beside simdjson's own parse of the same
// bytes as the ceiling. Each benchmark checks its output once before it is timed: a fast filter
// that leaks or loses ids would be measuring the wrong thing.

#include <benchmark/benchmark.h>
#include <re2/re2.h>
#include <simdjson.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "filters/line_filter.h"
#include "proxy/synthetic_corpus.h"
#include "rules/regex_sampler.h"
#include "rules/rule_loader.h"

namespace {

struct Corpus {
  std::string bytes; // lines, each followed by '\n', then simdjson padding
  std::vector<std::string_view> lines;
  std::vector<std::vector<std::string>> canaries;
  size_t payload_bytes = 0;
};

const Corpus& corpus() {
  static const Corpus c = [] {
    Corpus built;
    scrub::corpus::CorpusGenerator generator(42);
    std::vector<size_t> offsets;
    for (int i = 0; i < 20000; ++i) {
      auto line = generator.next();
      offsets.push_back(built.bytes.size());
      built.bytes += line.json;
      built.bytes.push_back('\n');
      built.canaries.push_back(std::move(line.canaries));
    }
    built.payload_bytes = built.bytes.size();
    built.bytes.append(simdjson::SIMDJSON_PADDING, '\0');
    for (size_t i = 0; i < offsets.size(); ++i) {
      const size_t end = (i + 1 < offsets.size() ? offsets[i + 1] : built.payload_bytes) - 1;
      built.lines.emplace_back(built.bytes.data() + offsets[i], end - offsets[i]);
    }
    return built;
  }();
  return c;
}

scrub::rules::RuleSetPtr load(const std::vector<std::string>& packs) {
  auto loaded = scrub::rules::loadRules(packs);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
    std::abort();
  }
  return loaded->rules;
}

size_t capacityOf(const Corpus& c, std::string_view line) {
  return c.bytes.size() - static_cast<size_t>(line.data() - c.bytes.data());
}

// Once, untimed: nothing planted may pass and something must.
void verify(const Corpus& c, const scrub::rules::RuleSet& rules, bool expect_names_removed) {
  scrub::filters::LineFilter filter;
  scrub::filters::FilterCounters counters;
  std::string out;
  for (size_t i = 0; i < c.lines.size(); ++i) {
    if (filter.filter(c.lines[i], capacityOf(c, c.lines[i]), rules, out, counters) !=
        scrub::filters::DropReason::None) {
      continue;
    }
    if (!expect_names_removed) {
      continue;
    }
    for (const auto& canary : c.canaries[i]) {
      if (out.find(canary) != std::string::npos) {
        std::fprintf(stderr, "benchmark self-check: canary leaked on line %zu\n", i);
        std::abort();
      }
    }
  }
  if (counters.lines_out == 0) {
    std::fprintf(stderr, "benchmark self-check: nothing forwarded\n");
    std::abort();
  }
}

void runFilter(benchmark::State& state, const scrub::rules::RuleSet& rules, bool fast_path = true) {
  const Corpus& c = corpus();
  scrub::filters::LineFilter filter;
  filter.setFastPath(fast_path);
  scrub::filters::FilterCounters counters;
  std::string out;
  out.reserve(1 << 16);
  for (auto _ : state) {
    for (std::string_view line : c.lines) {
      filter.filter(line, capacityOf(c, line), rules, out, counters);
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.payload_bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.lines.size()));
  // The share of lines the allowlist's fast path decided (line_filter_index.cc).
  state.counters["fast_share"] = static_cast<double>(filter.fastPathLines()) /
                                 static_cast<double>(state.iterations() * c.lines.size());
}

void BM_Filter_OpenfnRetryIds(benchmark::State& state) {
  static const auto rules = load({"openfn-retry-ids"});
  static const bool checked = (verify(corpus(), *rules, true), true);
  (void)checked;
  runFilter(state, *rules);
}

// The same with the fast path off: every line through the On Demand walk, as lines with a
// backslash and rule sets with detectors are.
void BM_Filter_OpenfnRetryIdsOnDemand(benchmark::State& state) {
  static const auto rules = load({"openfn-retry-ids"});
  runFilter(state, *rules, false);
}

void BM_Filter_KoboRedactPiiDetectors(benchmark::State& state) {
  static const auto rules = load({"kobo-redact", "pii-detectors"});
  // Names in free text are beyond regex detectors: the redact pack is checked for output, not
  // for names.
  static const bool checked = (verify(corpus(), *rules, false), true);
  (void)checked;
  runFilter(state, *rules);
}

// Experiment: a rule set with no `**` paths, to see what finding ids at any depth costs.
const scrub::rules::RuleSet& topLevelRules() {
  static const auto rules = [] {
    auto loaded = scrub::rules::loadRulesFromText(
        "version: 1\nname: top\nkeep:\n  - path: level\n    value: '(info|debug)'\n  - path: _id\n "
        "   value: '[1-9][0-9]{0,18}'\n",
        "top.yaml");
    return loaded->rules;
  }();
  return *rules;
}

void BM_Filter_TopLevelOnly(benchmark::State& state) {
  runFilter(state, topLevelRules());
}
void BM_Filter_TopLevelOnlyOnDemand(benchmark::State& state) {
  runFilter(state, topLevelRules(), false);
}
BENCHMARK(BM_Filter_TopLevelOnly);
BENCHMARK(BM_Filter_TopLevelOnlyOnDemand);

void BM_SimdjsonDomParse(benchmark::State& state) {
  const Corpus& c = corpus();
  simdjson::dom::parser parser;
  for (auto _ : state) {
    for (std::string_view line : c.lines) {
      auto doc = parser.parse(line.data(), line.size(), false);
      benchmark::DoNotOptimize(doc.error());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.payload_bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.lines.size()));
}

// simdjson's stage 1 alone (UTF-8, quoting, the structural index): the part of the parse the
// allowlist's fast path keeps. Not a valid filter on its own: the grammar is not checked.
void BM_SimdjsonStage1(benchmark::State& state) {
  const Corpus& c = corpus();
  std::unique_ptr<simdjson::internal::dom_parser_implementation> indexer;
  if (simdjson::get_active_implementation()->create_dom_parser_implementation(64 << 10, 64,
                                                                              indexer)) {
    state.SkipWithError("no stage 1");
    return;
  }
  for (auto _ : state) {
    for (std::string_view line : c.lines) {
      if (line.size() > (64 << 10)) {
        continue; // over the index's capacity (no corpus line is)
      }
      const auto error = indexer->stage1(reinterpret_cast<const uint8_t*>(line.data()), line.size(),
                                         simdjson::stage1_mode::regular);
      benchmark::DoNotOptimize(error);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.payload_bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.lines.size()));
}

void BM_SimdjsonOnDemandIterate(benchmark::State& state) {
  // On Demand with only the top-level keys touched: the cheapest full-line pass there is.
  const Corpus& c = corpus();
  simdjson::ondemand::parser parser;
  for (auto _ : state) {
    for (std::string_view line : c.lines) {
      simdjson::ondemand::document doc;
      if (parser.iterate(line.data(), line.size(), capacityOf(c, line)).get(doc)) {
        continue;
      }
      simdjson::ondemand::object object;
      if (doc.get_object().get(object)) {
        continue;
      }
      size_t n = 0;
      for (auto field : object) {
        n += field.error() ? 0 : 1;
      }
      benchmark::DoNotOptimize(n);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.payload_bytes));
}

// Visits every value once the way the filter's validating skip does (types, raw tokens, keys):
// the floor for any filter that must reject invalid JSON anywhere in a line.
size_t walkAll(simdjson::ondemand::value value) {
  simdjson::ondemand::json_type type;
  if (value.type().get(type)) {
    return 0;
  }
  size_t n = 1;
  switch (type) {
  case simdjson::ondemand::json_type::object: {
    simdjson::ondemand::object object;
    if (value.get_object().get(object)) {
      return 0;
    }
    for (auto field : object) {
      std::string_view key;
      if (field.error() || field.unescaped_key().get(key)) {
        return 0;
      }
      n += walkAll(field.value());
    }
    break;
  }
  case simdjson::ondemand::json_type::array: {
    simdjson::ondemand::array array;
    if (value.get_array().get(array)) {
      return 0;
    }
    for (auto element : array) {
      if (element.error()) {
        return 0;
      }
      n += walkAll(element.value_unsafe());
    }
    break;
  }
  default:
    n += value.raw_json_token().size();
  }
  return n;
}

void BM_SimdjsonOnDemandFullWalk(benchmark::State& state) {
  const Corpus& c = corpus();
  simdjson::ondemand::parser parser;
  for (auto _ : state) {
    for (std::string_view line : c.lines) {
      simdjson::ondemand::document doc;
      simdjson::ondemand::value root;
      if (parser.iterate(line.data(), line.size(), capacityOf(c, line)).get(doc) ||
          doc.get_value().get(root)) {
        continue;
      }
      benchmark::DoNotOptimize(walkAll(root));
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.payload_bytes));
}

// The default allowlist and the plain parse on one kind of corpus line at a time: where the
// allowlist's cost over the parse comes from. Kinds by the line's first key, except that any
// line holding a backslash (JSON inside a string) is its own kind, since it takes the On Demand
// walk (filters/line_filter.cc) instead of the fast path (filters/line_filter_index.cc).
enum class LineKind { OpenFn, Kobo, Worker, Backslash };

const std::vector<std::string_view>& linesOfKind(LineKind kind) {
  static const auto by_kind = [] {
    std::array<std::vector<std::string_view>, 4> kinds;
    for (std::string_view line : corpus().lines) {
      LineKind k = LineKind::OpenFn;
      if (line.find('\\') != std::string_view::npos) {
        k = LineKind::Backslash;
      } else if (line.starts_with("{\"_id\"")) {
        k = LineKind::Kobo;
      } else if (line.starts_with("{\"message\"")) {
        k = LineKind::Worker;
      } else if (!line.starts_with("{\"level\"")) {
        std::fprintf(stderr, "benchmark: a corpus line of no known kind\n");
        std::abort();
      }
      kinds[static_cast<size_t>(k)].push_back(line);
    }
    return kinds;
  }();
  return by_kind[static_cast<size_t>(kind)];
}

void setLineCounters(benchmark::State& state, const std::vector<std::string_view>& lines) {
  size_t bytes = 0;
  for (std::string_view line : lines) {
    bytes += line.size() + 1;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * lines.size()));
  state.counters["lines"] = static_cast<double>(lines.size());
  state.counters["per_line"] = benchmark::Counter(static_cast<double>(lines.size()),
                                                  benchmark::Counter::kIsIterationInvariantRate |
                                                      benchmark::Counter::kInvert);
}

void BM_ParseByLineType(benchmark::State& state, LineKind kind) {
  const auto& lines = linesOfKind(kind);
  simdjson::dom::parser parser;
  for (auto _ : state) {
    for (std::string_view line : lines) {
      auto doc = parser.parse(line.data(), line.size(), false);
      benchmark::DoNotOptimize(doc.error());
    }
  }
  setLineCounters(state, lines);
}

void BM_FilterByLineType(benchmark::State& state, LineKind kind) {
  static const auto rules = load({"openfn-retry-ids"});
  const Corpus& c = corpus();
  const auto& lines = linesOfKind(kind);
  scrub::filters::LineFilter filter;
  scrub::filters::FilterCounters counters;
  std::string out;
  out.reserve(1 << 16);
  for (auto _ : state) {
    for (std::string_view line : lines) {
      filter.filter(line, capacityOf(c, line), *rules, out, counters);
      benchmark::DoNotOptimize(out.data());
    }
  }
  setLineCounters(state, lines);
}

// One OpenFn line (synthetic values), filtered again and again: every branch is predicted and
// the line stays in L1, so what is left is the work itself. Beside the per-kind benchmarks above
// (the real mix), this tells instruction cost apart from mispredictions and cache misses.
constexpr std::string_view kRepeatedLine =
    R"({"level":"debug","name":"JOB","message":[{"_id":706647048,"_xform_id":10452}],)"
    R"("time":"1741094487207172022"})";
constexpr int kRepeats = 1000;

const std::string& repeatedLineBuffer() {
  static const std::string padded = [] {
    std::string s(kRepeatedLine);
    s.append(simdjson::SIMDJSON_PADDING, '\0');
    return s;
  }();
  return padded;
}

void setRepeatedCounters(benchmark::State& state) {
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * kRepeats * (kRepeatedLine.size() + 1)));
  state.counters["per_line"] = benchmark::Counter(
      kRepeats, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_ParseOneLineRepeated(benchmark::State& state) {
  const std::string& buffer = repeatedLineBuffer();
  simdjson::dom::parser parser;
  for (auto _ : state) {
    for (int i = 0; i < kRepeats; ++i) {
      auto doc = parser.parse(buffer.data(), kRepeatedLine.size(), false);
      benchmark::DoNotOptimize(doc.error());
    }
  }
  setRepeatedCounters(state);
}

void BM_FilterOneLineRepeated(benchmark::State& state) {
  static const auto rules = load({"openfn-retry-ids"});
  const std::string& buffer = repeatedLineBuffer();
  const std::string_view line(buffer.data(), kRepeatedLine.size());
  scrub::filters::LineFilter filter;
  scrub::filters::FilterCounters counters;
  std::string out;
  out.reserve(1 << 16);
  if (filter.filter(line, buffer.size(), *rules, out, counters) !=
          scrub::filters::DropReason::None ||
      out.find("706647048") == std::string::npos || out.find("JOB") == std::string::npos) {
    std::fprintf(stderr, "benchmark: the repeated line lost what the default pack keeps\n");
    std::abort();
  }
  for (auto _ : state) {
    for (int i = 0; i < kRepeats; ++i) {
      filter.filter(line, buffer.size(), *rules, out, counters);
      benchmark::DoNotOptimize(out.data());
    }
  }
  setRepeatedCounters(state);
}

// One value contract of the default pack on values that pass it (drawn from its own pattern and
// confirmed by RE2): what each kept value costs. `re2` is 1 where the contract runs RE2 (its
// fixed cost per call, set-up and the DFA cache lock, is most of the time on values this short)
// and 0 where a FastContract shape answers without it.
void BM_ContractHolds(benchmark::State& state, const char* path) {
  static const auto rules = load({"openfn-retry-ids"});
  const scrub::rules::KeepRule* rule = nullptr;
  for (const auto& keep : rules->keep) {
    if (keep.name == std::string("keep:") + path) {
      rule = &keep;
    }
  }
  if (rule == nullptr || !rule->value) {
    state.SkipWithError("no keep rule with a contract on this path");
    return;
  }
  std::vector<std::string> passing;
  if (auto samples = scrub::rules::sampleRegex(rule->value->pattern(), 64, 7)) {
    for (auto& sample : *samples) {
      if (RE2::FullMatch(sample, *rule->value)) {
        passing.push_back(std::move(sample));
      }
    }
  }
  if (passing.empty()) {
    state.SkipWithError("no passing sample");
    return;
  }
  size_t i = 0;
  for (auto _ : state) {
    if (!rule->contractHolds(passing[i])) {
      state.SkipWithError("a passing sample failed the contract");
      break;
    }
    i = i + 1 == passing.size() ? 0 : i + 1;
  }
  state.counters["re2"] = rule->fast ? 0 : 1;
}

} // namespace

BENCHMARK_CAPTURE(BM_ContractHolds, level, "level");
BENCHMARK_CAPTURE(BM_ContractHolds, id, "**._id");
BENCHMARK_CAPTURE(BM_ContractHolds, time, "time");
BENCHMARK_CAPTURE(BM_ContractHolds, message_item, "message[]");
BENCHMARK_CAPTURE(BM_ContractHolds, timestamp, "timestamp");
BENCHMARK_CAPTURE(BM_ContractHolds, step_id, "step_id");
BENCHMARK_CAPTURE(BM_ParseByLineType, openfn, LineKind::OpenFn);
BENCHMARK_CAPTURE(BM_FilterByLineType, openfn, LineKind::OpenFn);
BENCHMARK_CAPTURE(BM_ParseByLineType, kobo, LineKind::Kobo);
BENCHMARK_CAPTURE(BM_FilterByLineType, kobo, LineKind::Kobo);
BENCHMARK_CAPTURE(BM_ParseByLineType, worker, LineKind::Worker);
BENCHMARK_CAPTURE(BM_FilterByLineType, worker, LineKind::Worker);
BENCHMARK_CAPTURE(BM_ParseByLineType, backslash, LineKind::Backslash);
BENCHMARK_CAPTURE(BM_FilterByLineType, backslash, LineKind::Backslash);
BENCHMARK(BM_ParseOneLineRepeated);
BENCHMARK(BM_FilterOneLineRepeated);
BENCHMARK(BM_SimdjsonDomParse);
BENCHMARK(BM_SimdjsonStage1);
BENCHMARK(BM_SimdjsonOnDemandFullWalk);
BENCHMARK(BM_SimdjsonOnDemandIterate);
BENCHMARK(BM_Filter_OpenfnRetryIds);
BENCHMARK(BM_Filter_OpenfnRetryIdsOnDemand);
BENCHMARK(BM_Filter_KoboRedactPiiDetectors);

BENCHMARK_MAIN();
