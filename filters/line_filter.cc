#include "filters/line_filter.h"

#include <algorithm>
#include <optional>
#include <span>

#include "filters/embedded_json.h"
#include "filters/json_escape.h"
#include "filters/json_number.h"
#include "filters/json_space.h"
#include "filters/pseudonymizer.h"

namespace scrub::filters {
namespace {

namespace od = simdjson::ondemand;
using rules::Action;
using rules::Detector;
using rules::MatchSpan;
using rules::PathAutomaton;
using rules::Policy;
using rules::RuleSet;
using StateId = PathAutomaton::StateId;

enum class Mode : uint8_t {
  Guided, // allowlist: only what keep rules reach is written
  Scan,   // everything is written after the detectors ran over it
  Copy,   // redact policy, a keep rule exempts the subtree: written as it is (still validated)
};

enum class Out : uint8_t { Dropped, Written, Failed };

DropReason reasonFor(simdjson::error_code error) {
  switch (error) {
  case simdjson::UTF8_ERROR:
    return DropReason::InvalidUtf8;
  case simdjson::DEPTH_ERROR:
    return DropReason::TooDeep;
  default:
    return DropReason::InvalidJson;
  }
}

} // namespace

std::string_view decisionName(Decision decision) {
  switch (decision) {
  case Decision::Kept:
    return "kept";
  case Decision::Exempt:
    return "exempt";
  case Decision::Passed:
    return "passed";
  case Decision::Unmatched:
    return "removed:unmatched";
  case Decision::ContractFailed:
    return "removed:contract";
  case Decision::DeniedByKey:
    return "denied:key";
  case Decision::KeyCarriesData:
    return "removed:key-data";
  case Decision::Masked:
    return "masked";
  case Decision::Hashed:
    return "hashed";
  case Decision::RemovedByDetector:
    return "removed:detector";
  case Decision::EmbeddedJson:
    return "embedded-json";
  case Decision::KeyRejected:
    return "removed:key-not-identifier";
  }
  return "?";
}

struct LineFilter::Embedded {
  std::string buffer; // the decoded string, padded for simdjson
  od::parser parser;
  simdjson::dom::parser validator;
  std::string out;
};

// One line's walk. Holds the references the recursive functions share; lives on the stack.
struct LineFilter::Walk {
  struct Ctx {
    StateId state;        // keep-path automaton state at this node
    std::string_view key; // nearest enclosing object key, for detectors with `keys`
    size_t node_depth;    // 0 for the line's object
    int embed_level;      // strings-within-strings decoded so far
    Mode mode;
    bool is_field; // the value of an object member: key checks apply
  };

  LineFilter& f;
  const RuleSet& rules;
  FilterCounters& counters;
  FilterTrace* trace;
  DropReason failure = DropReason::None;
  size_t top_content = 0; // 1 once a top-level field that is not envelope is written
  size_t scanned = 0;     // bytes run through detector patterns (FilterLimits::max_scan_bytes)
  size_t decoded = 0;     // bytes of strings decoded as JSON (FilterLimits::max_decoded_bytes)

  // Charges `n` bytes of pattern scanning; false (and the line fails) when over the budget.
  bool chargeScan(size_t n) {
    scanned += n;
    if (scanned <= f.limits_.max_scan_bytes) {
      return true;
    }
    failure = DropReason::OverBudget;
    return false;
  }

  Out fail(simdjson::error_code error) {
    failure = reasonFor(error);
    return Out::Failed;
  }
  Out failDepth() {
    failure = DropReason::TooDeep;
    return Out::Failed;
  }

  void report(Decision decision, std::string_view rule, std::string_view value = {}) {
    if (trace != nullptr) {
      trace->onField(f.path_, decision, rule, f.trace_values_ ? value : std::string_view{});
    }
  }
  size_t pushKey(std::string_view key) {
    const size_t mark = f.path_.size();
    if (trace != nullptr) {
      rules::appendPathKey(f.path_, key);
    }
    return mark;
  }
  size_t pushIndex() {
    const size_t mark = f.path_.size();
    if (trace != nullptr) {
      rules::appendPathIndex(f.path_);
    }
    return mark;
  }
  void popPath(size_t mark) {
    if (trace != nullptr) {
      f.path_.resize(mark);
    }
  }

  bool tooDeep(size_t node_depth) const { return node_depth + 1 > f.limits_.max_depth; }

  // The field's key, unescaped. Most keys hold no escape: then the bytes between the quotes are
  // the key and the string parser (an out-of-line call per key) is not needed. The key's end is
  // found backwards from its value: `"key" : value`.
  simdjson::error_code fieldKey(od::field& field, std::string_view& key, bool& verbatim) {
    verbatim = false;
    const char* begin = field.key().raw();
    const char* end = field.value().raw_json_token().data();
    while (end > begin &&
           (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\t')) {
      --end;
    }
    if (end > begin && end[-1] == ':') {
      --end;
      while (end > begin &&
             (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\t')) {
        --end;
      }
      if (end > begin && end[-1] == '"') {
        const std::string_view raw(begin, static_cast<size_t>(end - 1 - begin));
        if (raw.find('\\') == std::string_view::npos) {
          key = raw;
          verbatim = true;
          return simdjson::SUCCESS;
        }
      }
    }
    return field.unescaped_key().get(key);
  }

  // --- validation of what is not written ------------------------------------------------------

  Out skipValue(od::value& value, size_t node_depth) {
    od::json_type type;
    if (auto error = value.type().get(type)) {
      return fail(error);
    }
    switch (type) {
    case od::json_type::object: {
      if (tooDeep(node_depth)) {
        return failDepth();
      }
      od::object object;
      if (auto error = value.get_object().get(object)) {
        return fail(error);
      }
      for (auto&& field_result : object) {
        // Used in place: copying a field out of its result costs a store-forwarding stall.
        if (auto error = field_result.error()) {
          return fail(error);
        }
        od::field& field = field_result.value_unsafe();
        std::string_view key;
        bool verbatim = false;
        if (auto error = fieldKey(field, key, verbatim)) {
          return fail(error);
        }
        if (skipValue(field.value(), node_depth + 1) == Out::Failed) {
          return Out::Failed;
        }
      }
      return Out::Dropped;
    }
    case od::json_type::array: {
      if (tooDeep(node_depth)) {
        return failDepth();
      }
      od::array array;
      if (auto error = value.get_array().get(array)) {
        return fail(error);
      }
      for (auto&& element_result : array) {
        od::value element;
        if (auto error = std::move(element_result).get(element)) {
          return fail(error);
        }
        if (skipValue(element, node_depth + 1) == Out::Failed) {
          return Out::Failed;
        }
      }
      return Out::Dropped;
    }
    case od::json_type::string: {
      // Stage 1 already checked UTF-8, control characters and quoting; only escapes are left
      // to check, and most strings have none. Only those are unescaped (which validates them).
      const std::string_view raw = trimTrailingJsonSpace(value.raw_json_token());
      if (raw.find('\\') == std::string_view::npos) {
        return Out::Dropped;
      }
      std::string_view text;
      if (auto error = value.get_string().get(text)) {
        return fail(error);
      }
      return Out::Dropped;
    }
    default: {
      std::string_view raw;
      std::string_view text;
      return scalar(value, type, raw, text) == Out::Failed ? Out::Failed : Out::Dropped;
    }
    }
  }

  // In a Guided walk, a field no keep rule accepts whose value is a scalar that cannot hold a
  // JSON document (so no deeper rule can match) is validated and dropped right here, without
  // writing and unwriting its key. Returns Dropped when it did so, Written when the caller
  // must walk the value, Failed on invalid input. The common case in an allowlist.
  Out dropPlainScalar(od::value& value, StateId state, size_t node_depth) {
    if (!rules.paths.info(state).accepted.empty()) {
      return Out::Written;
    }
    od::json_type type;
    if (auto error = value.type().get(type)) {
      return fail(error);
    }
    if (type == od::json_type::object || type == od::json_type::array) {
      return Out::Written;
    }
    if (type != od::json_type::string) {
      return skipValue(value, node_depth);
    }
    const std::string_view raw = trimTrailingJsonSpace(value.raw_json_token());
    // JSON text may start after white space, escaped or not ("\n{...}").
    size_t i = 1;
    while (i + 1 < raw.size() && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\\')) {
      i += raw[i] == '\\' ? 2 : 1;
    }
    if (i + 1 < raw.size() && (raw[i] == '{' || raw[i] == '[')) {
      return Out::Written;
    }
    if (raw.find('\\') != std::string_view::npos) {
      std::string_view text;
      if (auto error = value.get_string().get(text)) {
        return fail(error);
      }
    }
    return Out::Dropped;
  }

  // Reads and validates a scalar: `raw` is its JSON text as written, `text` what rules and
  // detectors see (a string unescaped, anything else as written).
  Out scalar(od::value& value, od::json_type type, std::string_view& raw, std::string_view& text) {
    raw = trimTrailingJsonSpace(value.raw_json_token());
    switch (type) {
    case od::json_type::string:
      if (auto error = value.get_string().get(text)) {
        return fail(error);
      }
      return Out::Written;
    case od::json_type::number:
      if (!isJsonNumber(raw)) {
        return fail(simdjson::NUMBER_ERROR);
      }
      break;
    case od::json_type::boolean: {
      bool unused = false;
      if (auto error = value.get_bool().get(unused)) {
        return fail(error);
      }
      break;
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto error = value.is_null().get(is_null)) {
        return fail(error);
      }
      if (!is_null) {
        return fail(simdjson::N_ATOM_ERROR);
      }
      break;
    }
    default:
      return fail(simdjson::INCORRECT_TYPE);
    }
    text = raw;
    return Out::Written;
  }

  // --- containers -----------------------------------------------------------------------------

  Out walkObject(od::object object, const Ctx& ctx, std::string& out) {
    if (tooDeep(ctx.node_depth)) {
      return failDepth();
    }
    const size_t start = out.size();
    out.push_back('{');
    bool any = false;
    const bool top = ctx.node_depth == 0 && ctx.embed_level == 0;
    for (auto&& field_result : object) {
      // Used in place: copying a field out of its result costs a store-forwarding stall.
      if (auto error = field_result.error()) {
        return fail(error);
      }
      od::field& field = field_result.value_unsafe();
      std::string_view key;
      bool verbatim = false;
      if (auto error = fieldKey(field, key, verbatim)) {
        return fail(error);
      }
      bool by_wildcard = false;
      const StateId child_state = ctx.mode == Mode::Copy
                                      ? PathAutomaton::kDead
                                      : rules.paths.stepKey(ctx.state, key, by_wildcard);
      // The common case in an allowlist: no rule reaches this field. Validate, write nothing.
      const Out early = ctx.mode != Mode::Guided ? Out::Written
                        : child_state == PathAutomaton::kDead
                            ? skipValue(field.value(), ctx.node_depth + 1)
                            : dropPlainScalar(field.value(), child_state, ctx.node_depth + 1);
      if (early == Out::Failed) {
        return Out::Failed;
      }
      if (early == Out::Dropped) {
        if (trace != nullptr) {
          const size_t path_mark = pushKey(key);
          unmatched({});
          popPath(path_mark);
        } else {
          ++counters.fields_unmatched;
        }
        continue;
      }
      const bool wildcard_rejected =
          ctx.mode == Mode::Guided && by_wildcard && !keyVerdict(key).wildcard_ok;
      if (failure != DropReason::None) {
        return Out::Failed;
      }
      if (wildcard_rejected) {
        // The key would be written and no rule names it: it must look like an identifier.
        if (skipValue(field.value(), ctx.node_depth + 1) == Out::Failed) {
          return Out::Failed;
        }
        ++counters.fields_key_rejected;
        if (trace != nullptr) {
          const size_t path_mark = pushKey(key);
          report(Decision::KeyRejected, {});
          popPath(path_mark);
        }
        continue;
      }
      const Ctx child{child_state, key, ctx.node_depth + 1, ctx.embed_level, ctx.mode, true};
      const size_t mark = out.size();
      if (any) {
        out.push_back(',');
      }
      if (verbatim) {
        // Stage 1 rejected raw control characters and the key holds no escape: its bytes are
        // already a valid JSON string body.
        appendVerbatimKey(out, key);
      } else {
        appendJsonString(out, key);
        out.push_back(':');
      }
      const size_t path_mark = pushKey(key);
      const Out result = walkValue(field.value(), child, out);
      popPath(path_mark);
      if (result == Out::Failed) {
        return result;
      }
      if (result == Out::Dropped) {
        out.resize(mark);
        continue;
      }
      any = true;
      // finishLine only asks whether some written top-level field is not envelope.
      if (top && top_content == 0 && !rules.topLevelEnvelope(key, child_state, by_wildcard)) {
        top_content = 1;
      }
    }
    out.push_back('}');
    if (!any && ctx.mode == Mode::Guided) {
      out.resize(start);
      return Out::Dropped;
    }
    return Out::Written;
  }

  Out walkArray(od::array array, const Ctx& ctx, std::string& out) {
    if (tooDeep(ctx.node_depth)) {
      return failDepth();
    }
    const size_t start = out.size();
    out.push_back('[');
    const StateId child_state =
        ctx.mode == Mode::Copy ? PathAutomaton::kDead : rules.paths.stepIndex(ctx.state);
    const Ctx child{child_state, ctx.key, ctx.node_depth + 1, ctx.embed_level, ctx.mode, false};
    const size_t path_mark = pushIndex();
    bool any = false;
    for (auto&& element_result : array) {
      if (auto error = element_result.error()) {
        return fail(error);
      }
      od::value& element = element_result.value_unsafe();
      if (ctx.mode == Mode::Guided && trace == nullptr) {
        // As for object members: elements no rule can keep are validated and dropped here.
        const Out early = child_state == PathAutomaton::kDead
                              ? skipValue(element, ctx.node_depth + 1)
                              : dropPlainScalar(element, child_state, ctx.node_depth + 1);
        if (early == Out::Failed) {
          return Out::Failed;
        }
        if (early == Out::Dropped) {
          ++counters.fields_unmatched;
          continue;
        }
      }
      const size_t mark = out.size();
      if (any) {
        out.push_back(',');
      }
      const Out result = walkValue(element, child, out);
      if (result == Out::Failed) {
        return result;
      }
      if (result == Out::Dropped) {
        out.resize(mark);
      } else {
        any = true;
      }
    }
    popPath(path_mark);
    out.push_back(']');
    if (!any && ctx.mode == Mode::Guided) {
      out.resize(start);
      return Out::Dropped;
    }
    return Out::Written;
  }

  Out walkContainer(od::value& value, od::json_type type, const Ctx& ctx, std::string& out) {
    if (type == od::json_type::object) {
      od::object object;
      if (auto error = value.get_object().get(object)) {
        return fail(error);
      }
      return walkObject(object, ctx, out);
    }
    od::array array;
    if (auto error = value.get_array().get(array)) {
      return fail(error);
    }
    return walkArray(array, ctx, out);
  }

  // --- one value --------------------------------------------------------------------------------

  Out walkValue(od::value& value, const Ctx& ctx, std::string& out) {
    od::json_type type;
    if (auto error = value.type().get(type)) {
      return fail(error);
    }
    const bool container = type == od::json_type::object || type == od::json_type::array;
    if (ctx.mode == Mode::Copy) {
      return container ? walkContainer(value, type, ctx, out) : copyScalar(value, type, out);
    }

    const PathAutomaton::StateInfo& info = rules.paths.info(ctx.state);
    const bool accepted = !info.accepted.empty();
    const int free_rule = info.first_free; // an accepting keep rule without a value contract
    const bool alive = info.alive;         // some keep rule may still match below this node

    if (rules.policy == Policy::Redact && accepted) {
      if (free_rule >= 0) {
        ++counters.keep[free_rule].kept;
        ++counters.fields_exempt;
        report(Decision::Exempt, rules.keep[free_rule].name);
        const Ctx copy{PathAutomaton::kDead, ctx.key,    ctx.node_depth,
                       ctx.embed_level,      Mode::Copy, false};
        return container ? walkContainer(value, type, copy, out) : copyScalar(value, type, out);
      }
      if (!container) {
        std::string_view raw;
        std::string_view text;
        if (scalar(value, type, raw, text) == Out::Failed) {
          return Out::Failed;
        }
        const int rule = rules.firstKeepRuleFor(info, text);
        if (rule >= 0) {
          ++counters.keep[rule].kept;
          ++counters.fields_exempt;
          report(Decision::Exempt, rules.keep[rule].name, text);
          out.append(raw);
          return Out::Written;
        }
        return contractFailed(info, text);
      }
    }

    const bool could_write = ctx.mode == Mode::Scan || accepted || alive;
    if (ctx.is_field && could_write) {
      const KeyVerdict verdict =
          rules.key_only_set || rules.value_set ? keyVerdict(ctx.key) : KeyVerdict{};
      if (failure != DropReason::None) {
        return Out::Failed;
      }
      if (verdict.key_detector >= 0) {
        return denyByKey(value, type, ctx, verdict.key_detector, out);
      }
      if ((ctx.mode == Mode::Scan || accepted) && verdict.data_detector >= 0) {
        const int d = verdict.data_detector;
        ++counters.detectors[d].hits;
        ++counters.detectors[d].removed;
        report(Decision::KeyCarriesData, rules.detectors[d].name);
        return skipValue(value, ctx.node_depth) == Out::Failed ? Out::Failed : Out::Dropped;
      }
    }

    if (ctx.mode == Mode::Scan) {
      return scanValue(value, type, ctx, out);
    }

    // Guided: the allowlist.
    if (free_rule >= 0) {
      ++counters.keep[free_rule].kept;
      report(Decision::Kept, rules.keep[free_rule].name);
      Ctx scan = ctx;
      scan.mode = Mode::Scan;
      return scanValue(value, type, scan, out);
    }
    if (accepted && !container) {
      std::string_view raw;
      std::string_view text;
      if (scalar(value, type, raw, text) == Out::Failed) {
        return Out::Failed;
      }
      const int rule = rules.firstKeepRuleFor(info, text);
      if (rule >= 0) {
        ++counters.keep[rule].kept;
        return writeScanned(raw, text, ctx, out, rules.keep[rule].name);
      }
      if (type == od::json_type::string && alive && looksLikeJsonContainer(text)) {
        if (auto embedded = walkEmbedded(text, ctx, out)) {
          return *embedded;
        }
      }
      return contractFailed(info, text);
    }
    if (alive) {
      if (container) {
        return walkContainer(value, type, ctx, out);
      }
      if (type == od::json_type::string) {
        std::string_view raw;
        std::string_view text;
        if (scalar(value, type, raw, text) == Out::Failed) {
          return Out::Failed;
        }
        if (looksLikeJsonContainer(text)) {
          if (auto embedded = walkEmbedded(text, ctx, out)) {
            return *embedded;
          }
        }
        return unmatched(text);
      }
    }
    if (skipValue(value, ctx.node_depth) == Out::Failed) {
      return Out::Failed;
    }
    return unmatched({});
  }

  Out unmatched(std::string_view text) {
    ++counters.fields_unmatched;
    report(Decision::Unmatched, {}, text);
    return Out::Dropped;
  }

  Out contractFailed(const PathAutomaton::StateInfo& info, std::string_view text) {
    const uint32_t first = info.accepted.front();
    ++counters.keep[first].contract_failed;
    report(Decision::ContractFailed, rules.keep[first].name, text);
    return Out::Dropped;
  }

  Out copyScalar(od::value& value, od::json_type type, std::string& out) {
    std::string_view raw;
    std::string_view text;
    if (scalar(value, type, raw, text) == Out::Failed) {
      return Out::Failed;
    }
    out.append(raw);
    return Out::Written;
  }

  Out scanValue(od::value& value, od::json_type type, const Ctx& ctx, std::string& out) {
    if (type == od::json_type::object || type == od::json_type::array) {
      return walkContainer(value, type, ctx, out);
    }
    std::string_view raw;
    std::string_view text;
    if (scalar(value, type, raw, text) == Out::Failed) {
      return Out::Failed;
    }
    if (type == od::json_type::boolean || type == od::json_type::null) {
      out.append(raw);
      return Out::Written;
    }
    if (type == od::json_type::string && looksLikeJsonContainer(text)) {
      if (auto embedded = walkEmbedded(text, ctx, out)) {
        return *embedded;
      }
    }
    return writeScanned(raw, text, ctx, out, {});
  }

  // --- detectors --------------------------------------------------------------------------------

  int keyOnlyDetector(std::string_view key) {
    if (!rules.key_only_set || !rules.key_only_set->Match(key, nullptr)) {
      return -1;
    }
    f.set_hits_.clear();
    rules.key_only_set->Match(key, &f.set_hits_);
    // When several fire, removal wins over masking (the safer outcome), then rule order.
    int chosen = -1;
    for (int hit : f.set_hits_) {
      const int d = rules.key_only_set_detector[hit];
      const bool removes = rules.detectors[d].action == Action::Remove;
      const bool chosen_removes = chosen >= 0 && rules.detectors[chosen].action == Action::Remove;
      if (chosen < 0 || removes > chosen_removes || (removes == chosen_removes && d < chosen)) {
        chosen = d;
      }
    }
    return chosen;
  }

  // A key such as "dzenana.smajlovic@example.net" carries data itself; it cannot be masked
  // without colliding with its siblings, so such a field goes. Returns the detector, or -1.
  int keyDataDetector(std::string_view key) {
    if (!rules.value_set || !rules.value_set->Match(key, nullptr)) {
      return -1;
    }
    f.set_hits_.clear();
    rules.value_set->Match(key, &f.set_hits_);
    f.spans_.clear();
    for (int hit : f.set_hits_) {
      const int d = rules.value_set_detector[hit];
      if (rules::findDetectorSpans(rules.detectors[d], d, key, f.spans_)) {
        return d;
      }
    }
    return -1;
  }

  KeyVerdict keyVerdict(std::string_view key) {
    if (const KeyVerdict* known = f.key_verdicts_.find(key)) {
      return *known;
    }
    // A key costs its scans only once per worker (the verdict is cached), so it is charged here.
    if (!chargeScan(key.size() * (1 + rules.detectors.size()))) {
      return KeyVerdict{-1, -1, false}; // the caller sees `failure` and drops the line
    }
    const bool wildcard_ok = rules.wildcardKeyAllowed(key);
    const KeyVerdict verdict{keyOnlyDetector(key), keyDataDetector(key), wildcard_ok};
    f.key_verdicts_.insert(key, verdict);
    return verdict;
  }

  Out denyByKey(od::value& value, od::json_type type, const Ctx& ctx, int d, std::string& out) {
    const Detector& detector = rules.detectors[d];
    auto& count = counters.detectors[d];
    ++count.hits;
    const bool container = type == od::json_type::object || type == od::json_type::array;
    if (detector.action == Action::Hash && !container && rules.hash_key) {
      std::string_view raw;
      std::string_view text;
      if (scalar(value, type, raw, text) == Out::Failed) {
        return Out::Failed;
      }
      ++count.hashed;
      f.text_scratch_.clear();
      appendPseudonym(f.text_scratch_, *rules.hash_key, text);
      appendJsonString(out, f.text_scratch_);
      report(Decision::Hashed, detector.name, text);
      return Out::Written;
    }
    if (skipValue(value, ctx.node_depth) == Out::Failed) {
      return Out::Failed;
    }
    if (detector.action == Action::Remove) {
      ++count.removed;
      report(Decision::DeniedByKey, detector.name);
      return Out::Dropped;
    }
    ++count.masked;
    appendJsonString(out, rules.masks[d]);
    report(Decision::DeniedByKey, detector.name);
    return Out::Written;
  }

  // Writes a scalar after the detectors ran over its text: as it was when none fired, with the
  // matched parts masked or hashed, or not at all when a removing detector fired.
  Out writeScanned(std::string_view raw, std::string_view text, const Ctx& ctx, std::string& out,
                   std::string_view keep_rule) {
    const Decision clean = keep_rule.empty() ? Decision::Passed : Decision::Kept;
    if (!rules.value_set) {
      out.append(raw);
      report(clean, keep_rule, text);
      return Out::Written;
    }
    if (!chargeScan(text.size())) {
      return Out::Failed;
    }
    // Most values hit nothing; only then is the (allocating) list of hits asked for.
    if (!rules.value_set->Match(re2::StringPiece(text.data(), text.size()), nullptr)) {
      out.append(raw);
      report(clean, keep_rule, text);
      return Out::Written;
    }
    if (!chargeScan(text.size())) {
      return Out::Failed;
    }
    f.set_hits_.clear();
    rules.value_set->Match(re2::StringPiece(text.data(), text.size()), &f.set_hits_);
    f.spans_.clear();
    bool remove = false;
    for (int hit : f.set_hits_) {
      const int d = rules.value_set_detector[hit];
      const Detector& detector = rules.detectors[d];
      if (detector.keys && !RE2::PartialMatch(ctx.key, *detector.keys)) {
        continue;
      }
      if (!chargeScan(text.size())) {
        return Out::Failed;
      }
      if (rules::findDetectorSpans(detector, d, text, f.spans_)) {
        ++counters.detectors[d].hits;
        remove = remove || detector.action == Action::Remove ||
                 (detector.action == Action::Hash && !rules.hash_key);
      }
    }
    if (f.spans_.empty()) {
      out.append(raw);
      report(clean, keep_rule, text);
      return Out::Written;
    }
    if (remove) {
      for (const MatchSpan& span : f.spans_) {
        const Detector& detector = rules.detectors[span.detector];
        if (detector.action == Action::Remove) {
          ++counters.detectors[span.detector].removed;
          report(Decision::RemovedByDetector, detector.name, text);
          break;
        }
      }
      return Out::Dropped;
    }
    std::sort(f.spans_.begin(), f.spans_.end(), [](const MatchSpan& a, const MatchSpan& b) {
      if (a.begin != b.begin) {
        return a.begin < b.begin;
      }
      return a.end != b.end ? a.end > b.end : a.detector < b.detector;
    });
    f.text_scratch_.clear();
    size_t copied = 0;
    Decision decision = Decision::Masked;
    const Detector* first = nullptr;
    for (const MatchSpan& span : f.spans_) {
      if (span.begin < copied) {
        // Overlaps a span already replaced: extend the replacement, never leave a tail visible.
        copied = std::max(copied, span.end);
        continue;
      }
      const Detector& detector = rules.detectors[span.detector];
      first = first != nullptr ? first : &detector;
      f.text_scratch_.append(text.substr(copied, span.begin - copied));
      if (detector.action == Action::Hash) {
        appendPseudonym(f.text_scratch_, *rules.hash_key,
                        text.substr(span.begin, span.end - span.begin));
        ++counters.detectors[span.detector].hashed;
        decision = Decision::Hashed;
      } else {
        f.text_scratch_.append(rules.masks[span.detector]);
        ++counters.detectors[span.detector].masked;
      }
      copied = span.end;
    }
    f.text_scratch_.append(text.substr(std::min(copied, text.size())));
    appendJsonString(out, f.text_scratch_);
    report(decision, first->name, text);
    return Out::Written;
  }

  // --- JSON inside strings ----------------------------------------------------------------------

  // Filters `text` as a JSON document rooted at this node. nullopt: it is not JSON (or is too
  // large or nested too many strings deep), so the caller treats it as text.
  std::optional<Out> walkEmbedded(std::string_view text, const Ctx& ctx, std::string& out) {
    if (ctx.embed_level >= f.limits_.max_embedded_levels ||
        text.size() > f.limits_.max_embedded_bytes) {
      return std::nullopt;
    }
    decoded += text.size();
    if (decoded > f.limits_.max_decoded_bytes) {
      failure = DropReason::OverBudget;
      return Out::Failed;
    }
    while (f.embedded_.size() <= static_cast<size_t>(ctx.embed_level)) {
      f.embedded_.push_back(std::make_unique<Embedded>());
    }
    Embedded& e = *f.embedded_[ctx.embed_level];
    e.buffer.assign(text);
    e.buffer.append(simdjson::SIMDJSON_PADDING, '\0');
    // Validate fully first: a string that only looks like JSON must be handled as text, and
    // the counters must not already hold decisions about half of it.
    if (e.validator.parse(e.buffer.data(), text.size(), false).error()) {
      return std::nullopt;
    }
    od::document document;
    if (e.parser.iterate(e.buffer.data(), text.size(), e.buffer.size()).get(document)) {
      return std::nullopt;
    }
    od::value root;
    od::json_type type;
    if (document.get_value().get(root) || root.type().get(type)) {
      return std::nullopt;
    }
    e.out.clear();
    const Ctx inner{ctx.state, ctx.key, ctx.node_depth, ctx.embed_level + 1, ctx.mode, false};
    const Out result = walkContainer(root, type, inner, e.out);
    if (result != Out::Written) {
      return result;
    }
    ++counters.embedded_json;
    report(Decision::EmbeddedJson, {});
    appendJsonString(out, e.out);
    return Out::Written;
  }
};

LineFilter::LineFilter(FilterLimits limits) : limits_(limits) {
  spans_.reserve(16);
  set_hits_.reserve(16);
  keep_events_.reserve(16);
  // The depth given to simdjson only sizes its stage 2, which the fast path does not run.
  if (limits_.max_depth > kFastMaxDepth ||
      simdjson::get_active_implementation()->create_dom_parser_implementation(
          kIndexMaxLineBytes, kFastMaxDepth, indexer_) != simdjson::SUCCESS) {
    indexer_.reset();
  }
}

LineFilter::~LineFilter() {
  // Payload must not outlive its use in memory handed back to the allocator. (simdjson's own
  // buffers are private to it; they are reused, never grown, for lines within the limit.)
  auto wipe = [](std::string& bytes) {
    bytes.resize(bytes.capacity()); // earlier, longer contents live past size()
    volatile char* p = bytes.data();
    for (size_t i = 0; i < bytes.size(); ++i) {
      p[i] = 0;
    }
  };
  wipe(copy_buffer_);
  wipe(fast_out_);
  wipe(text_scratch_);
  wipe(path_);
  for (auto& level : embedded_) {
    wipe(level->buffer);
    wipe(level->out);
  }
}

DropReason LineFilter::filterCopy(std::string_view line, const rules::RuleSet& rules,
                                  std::string& out, FilterCounters& counters,
                                  FilterTrace* trace) noexcept {
  if (line.size() > limits_.max_line_bytes) {
    return filter(line, line.size() + simdjson::SIMDJSON_PADDING, rules, out, counters, trace);
  }
  copy_buffer_.assign(line);
  copy_buffer_.append(simdjson::SIMDJSON_PADDING, '\0');
  return filter(std::string_view(copy_buffer_.data(), line.size()), copy_buffer_.size(), rules, out,
                counters, trace);
}

DropReason LineFilter::filter(std::string_view line, size_t capacity, const rules::RuleSet& rules,
                              std::string& out, FilterCounters& counters,
                              FilterTrace* trace) noexcept {
  ++counters.lines_in;
  counters.bytes_in += line.size();
  out.clear();
  path_.clear();
  auto drop = [&](DropReason reason) {
    out.clear();
    ++counters.dropped[static_cast<size_t>(reason)];
    return reason;
  };
  if (line.size() > limits_.max_line_bytes) {
    return drop(DropReason::TooLong);
  }
  if (counters.keep.size() != rules.keep.size() ||
      counters.detectors.size() != rules.detectors.size()) {
    counters.sizeFor(rules);
  }
  if (fastPathFits(rules, trace)) {
    size_t top_content = 0;
    const FastResult fast = filterIndexed(line, rules, out, counters, top_content);
    if (fast != FastResult::Fallback) {
      return finishLine(fast == FastResult::Written, top_content, rules, out, counters);
    }
  }
  od::document document;
  if (auto error = parser_.iterate(line.data(), line.size(), capacity).get(document)) {
    return drop(reasonFor(error));
  }
  od::object object;
  if (auto error = document.get_object().get(object)) {
    if (error != simdjson::INCORRECT_TYPE) {
      return drop(reasonFor(error));
    }
    // On Demand only looked at the first byte; `not json` starts like `null`. Tell a valid
    // non-object from garbage (a rare path, so a full parse is fine).
    const bool valid = !validator_.parse(line.data(), line.size(), false).error();
    return drop(valid ? DropReason::NotObject : DropReason::InvalidJson);
  }
  key_verdicts_.useRules(rules.id);
  Walk walk{*this, rules, counters, trace};
  const Walk::Ctx root{rules.paths.start(),
                       {},
                       0,
                       0,
                       rules.policy == Policy::Allowlist ? Mode::Guided : Mode::Scan,
                       false};
  const Out result = walk.walkObject(object, root, out);
  if (result == Out::Failed) {
    return drop(walk.failure);
  }
  // Bytes after the object ({"a":1}{"b":2}, or `{} x`) make the line invalid JSON.
  const char* trailing = nullptr;
  if (!document.current_location().get(trailing)) {
    return drop(DropReason::InvalidJson);
  }
  return finishLine(result == Out::Written, walk.top_content, rules, out, counters);
}

DropReason LineFilter::finishLine(bool written, size_t top_content, const rules::RuleSet& rules,
                                  std::string& out, FilterCounters& counters) {
  if (rules.drop_empty && top_content == 0) {
    out.clear();
    ++counters.dropped[static_cast<size_t>(DropReason::Empty)];
    return DropReason::Empty;
  }
  if (!written) {
    out.assign("{}");
  }
  ++counters.lines_out;
  counters.bytes_out += out.size();
  return DropReason::None;
}

} // namespace scrub::filters
