// The allowlist's fast path: simdjson's stage 1 (the structural index: UTF-8, string quoting and
// raw control characters checked, the position of every bracket, colon, comma, string and scalar
// found, at several GB/s) and then one walk over those positions that checks the grammar and
// applies the rules together. simdjson's full DOM parse would build a tape (strings copied,
// numbers converted) the walk then reads again; for the short lines of this workload that second
// stage cost about as much as the rules themselves. The On Demand walk (line_filter.cc) does the
// same in principle, at a higher cost per value.
//
// This path only takes lines it can decide exactly as the On Demand walk would, and hands every
// other line back (Fallback) before it has changed anything but its own scratch:
//  - the rule set is an allowlist without detectors, nobody asked for a trace, and the scan budget
//    cannot be exceeded by key checks alone (LineFilter::fastPathFits);
//  - the line holds no backslash: then every string's bytes between its quotes are its text and
//    already valid (stage 1 checked UTF-8, quoting and control characters), and it is at most
//    kIndexMaxLineBytes long;
//  - stage 1 succeeds and the walk finds the line valid: for anything else (a grammar error, a
//    bad number or atom, a line nested deeper than the limit) the On Demand walk judges the line
//    and tells invalid_json, invalid_utf8 and too_deep apart;
//  - no keep rule without a value contract is reached (below it everything is written as it was)
//    and no string that may hold JSON is reached where a rule could look inside it.
// Counter updates wait in LineFilter::keep_events_ until the line is decided, so a line handed
// back is not counted twice. A differential test and the fuzz target check that both walks give
// the same output, drop reason and counters.

#include "filters/bounded_output.h"
#include "filters/embedded_json.h"
#include "filters/json_number.h"
#include "filters/json_space.h"
#include "filters/line_filter.h"

namespace scrub::filters {
namespace {

using rules::PathAutomaton;
using rules::RuleSet;
using StateId = PathAutomaton::StateId;

// keep_events_ entries: a keep rule's index, with this bit set when its contract failed.
constexpr uint32_t kContractFailedBit = 1u << 31;

// A scalar token after stage 1: a number or one of the three literals, exactly.
bool isJsonScalar(std::string_view token) {
  switch (token.front()) {
  case 't':
    return token == "true";
  case 'f':
    return token == "false";
  case 'n':
    return token == "null";
  default:
    return isJsonNumber(token);
  }
}

} // namespace

// The walk keeps one cursor into the structural index. Every structural of the line is visited
// once, in order, whether its value is written or dropped: a dropped subtree must still be valid
// JSON (fail closed), and checking it costs no more than stepping over it.
struct LineFilter::IndexWalk {
  enum class Out : uint8_t { Dropped, Written, Fallback };

  LineFilter& f;
  const RuleSet& rules;
  const char* line;
  const uint32_t* index; // positions of the structurals in `line`
  uint32_t count;        // how many there are
  uint32_t at = 0;       // the structural the walk stands on
  size_t unmatched = 0;
  size_t key_rejected = 0;
  size_t top_content = 0;

  char kindAt(uint32_t i) const { return line[index[i]]; }
  bool tooDeep(size_t node_depth) const { return node_depth + 1 > f.limits_.max_depth; }

  // The bytes from structural `i` up to the next structural, without the white space before it.
  // Stage 1 starts a new structural at every byte that follows white space or a bracket, colon,
  // comma or string, so what lies between a value's start and the next structural is the value
  // and white space only.
  size_t tokenEnd(uint32_t i) const {
    size_t end = index[i + 1];
    while (isJsonSpace(line[end - 1])) {
      --end;
    }
    return end;
  }
  // The body of the string that opens at structural `i` (its closing quote ends the token).
  std::string_view stringAt(uint32_t i) const {
    const size_t open = index[i];
    return {line + open + 1, tokenEnd(i) - open - 2};
  }
  std::string_view tokenAt(uint32_t i) const {
    const size_t start = index[i];
    return {line + start, tokenEnd(i) - start};
  }

  // The On Demand walk's wildcard key check, through the same cache.
  bool wildcardKeyOk(std::string_view key) {
    if (const KeyVerdict* known = f.key_verdicts_.find(key)) {
      return known->wildcard_ok;
    }
    const bool ok = rules.wildcardKeyAllowed(key);
    f.key_verdicts_.insert(key, KeyVerdict{-1, -1, ok});
    return ok;
  }

  // --- grammar --------------------------------------------------------------------------------

  // Steps into the container at `at`. True when it is empty (and then steps over its end too).
  bool opensEmpty(char close) {
    ++at;
    if (at < count && kindAt(at) == close) {
      ++at;
      return true;
    }
    return false;
  }

  // A member's key and colon at `at`, followed by at least a value and one more structural.
  bool atMember() const { return at + 3 < count && kindAt(at) == '"' && kindAt(at + 1) == ':'; }
  // An element at `at`, followed by at least one more structural.
  bool atElement() const { return at + 1 < count; }

  enum class Next : uint8_t { More, Closed, Invalid };
  // After a member or element: steps over the comma, or the container's closing bracket.
  Next separator(char close) {
    if (at >= count) {
      return Next::Invalid;
    }
    const char next = kindAt(at++);
    if (next == ',') {
      return Next::More;
    }
    return next == close ? Next::Closed : Next::Invalid;
  }

  // --- validation of what is not written ------------------------------------------------------

  // Steps over the value at `at`, checking it. False when the line must go back.
  bool skip(size_t node_depth) {
    switch (kindAt(at)) {
    case '{':
      return skipObject(node_depth);
    case '[': {
      size_t elements = 0;
      return skipArray(node_depth, elements);
    }
    case '"':
      ++at;
      return true;
    default:
      if (!isJsonScalar(tokenAt(at))) {
        return false;
      }
      ++at;
      return true;
    }
  }

  bool skipObject(size_t node_depth) {
    if (tooDeep(node_depth)) {
      return false;
    }
    if (opensEmpty('}')) {
      return true;
    }
    for (;;) {
      if (!atMember()) {
        return false;
      }
      at += 2;
      if (!skip(node_depth + 1)) {
        return false;
      }
      const Next next = separator('}');
      if (next != Next::More) {
        return next == Next::Closed;
      }
    }
  }

  // `elements` counts the array's elements, for an array no rule reaches into.
  bool skipArray(size_t node_depth, size_t& elements) {
    if (tooDeep(node_depth)) {
      return false;
    }
    if (opensEmpty(']')) {
      return true;
    }
    for (;;) {
      if (!atElement() || !skip(node_depth + 1)) {
        return false;
      }
      ++elements;
      const Next next = separator(']');
      if (next != Next::More) {
        return next == Next::Closed;
      }
    }
  }

  // --- the rules --------------------------------------------------------------------------------

  // The On Demand walk's dropPlainScalar: a scalar no keep rule accepts and no rule can find JSON
  // in is checked and dropped without writing its key. Dropped when it did so, Written when the
  // caller must walk the value, Fallback when the scalar is invalid.
  Out plainDrop(char kind, const PathAutomaton::StateInfo& info) {
    if (!info.accepted.empty() || kind == '{' || kind == '[') {
      return Out::Written;
    }
    if (kind != '"') {
      return skip(0) ? Out::Dropped : Out::Fallback;
    }
    // Most strings are decided by their first byte, before their end is looked for.
    const char first = line[index[at] + 1];
    if (first != ' ' && first != '\t' && first != '{' && first != '[') {
      ++at;
      return Out::Dropped;
    }
    const std::string_view text = stringAt(at);
    size_t i = 0;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) {
      ++i;
    }
    if (i < text.size() && (text[i] == '{' || text[i] == '[')) {
      return Out::Written;
    }
    ++at;
    return Out::Dropped;
  }

  // A member's or element's value after its comma (and key) were written: unwrites them when the
  // value is dropped, and sets `any` when it is written.
  Out writeValue(size_t mark, char kind, StateId state, const PathAutomaton::StateInfo& info,
                 size_t node_depth, BoundedOutput& out, bool& any) {
    const Out result = element(kind, state, info, node_depth, out);
    if (result == Out::Dropped) {
      out.truncate(mark);
    } else if (result == Out::Written) {
      any = true;
    }
    return result;
  }

  // The container's output when it closes: nothing when no member or element was written.
  static Out close(char bracket, size_t start, bool any, BoundedOutput& out) {
    if (!any) {
      out.truncate(start);
      return Out::Dropped;
    }
    out.put(bracket);
    return Out::Written;
  }

  Out object(StateId state, size_t node_depth, BoundedOutput& out) {
    if (tooDeep(node_depth)) {
      return Out::Fallback;
    }
    if (opensEmpty('}')) {
      return Out::Dropped; // `{}` writes nothing in an allowlist
    }
    const size_t start = out.size();
    out.put('{');
    bool any = false;
    const bool top = node_depth == 0;
    for (;;) {
      if (!atMember()) {
        return Out::Fallback;
      }
      const std::string_view key = stringAt(at);
      at += 2;
      bool by_wildcard = false;
      const StateId child = rules.paths.stepKey(state, key, by_wildcard);
      if (child == PathAutomaton::kDead) {
        if (!skip(node_depth + 1)) {
          return Out::Fallback;
        }
        ++unmatched;
      } else {
        const char kind = kindAt(at);
        const PathAutomaton::StateInfo& info = rules.paths.info(child);
        const Out early = plainDrop(kind, info);
        if (early == Out::Fallback) {
          return early;
        }
        if (early == Out::Dropped) {
          ++unmatched;
        } else if (by_wildcard && !wildcardKeyOk(key)) {
          if (!skip(node_depth + 1)) {
            return Out::Fallback;
          }
          ++key_rejected;
        } else {
          const size_t mark = out.size();
          if (any) {
            out.put(',');
          }
          // No backslash in the line: the key's bytes are a valid JSON string body as they stand.
          out.putKey(key);
          const Out result = writeValue(mark, kind, child, info, node_depth + 1, out, any);
          if (result == Out::Fallback) {
            return result;
          }
          // finishLine only asks whether some written top-level field is not envelope.
          if (result == Out::Written && top && top_content == 0 &&
              !rules.topLevelEnvelope(key, child, by_wildcard)) {
            top_content = 1;
          }
        }
      }
      const Next next = separator('}');
      if (next == Next::Invalid) {
        return Out::Fallback;
      }
      if (next == Next::Closed) {
        return close('}', start, any, out);
      }
    }
  }

  Out array(StateId state, size_t node_depth, BoundedOutput& out) {
    const StateId child = rules.paths.stepIndex(state);
    if (child == PathAutomaton::kDead) {
      // Every element is unmatched, and still checked.
      size_t elements = 0;
      if (!skipArray(node_depth, elements)) {
        return Out::Fallback;
      }
      unmatched += elements;
      return Out::Dropped;
    }
    if (tooDeep(node_depth)) {
      return Out::Fallback;
    }
    if (opensEmpty(']')) {
      return Out::Dropped;
    }
    const PathAutomaton::StateInfo& info = rules.paths.info(child);
    const size_t start = out.size();
    out.put('[');
    bool any = false;
    for (;;) {
      if (!atElement()) {
        return Out::Fallback;
      }
      const char kind = kindAt(at);
      const Out early = plainDrop(kind, info);
      if (early == Out::Fallback) {
        return early;
      }
      if (early == Out::Dropped) {
        ++unmatched;
      } else {
        const size_t mark = out.size();
        if (any) {
          out.put(',');
        }
        if (writeValue(mark, kind, child, info, node_depth + 1, out, any) == Out::Fallback) {
          return Out::Fallback;
        }
      }
      const Next next = separator(']');
      if (next == Next::Invalid) {
        return Out::Fallback;
      }
      if (next == Next::Closed) {
        return close(']', start, any, out);
      }
    }
  }

  // The On Demand walk's walkValue, Guided mode, for a rule set without detectors. The value
  // starts at `at`; the walk leaves `at` on the structural after it.
  Out element(char kind, StateId state, const PathAutomaton::StateInfo& info, size_t node_depth,
              BoundedOutput& out) {
    if (info.first_free >= 0) {
      return Out::Fallback;
    }
    const bool container = kind == '{' || kind == '[';
    if (!info.accepted.empty() && !container) {
      const bool is_string = kind == '"';
      const std::string_view text = is_string ? stringAt(at) : tokenAt(at);
      if (!is_string && !isJsonScalar(text)) {
        return Out::Fallback;
      }
      ++at;
      const int rule = rules.firstKeepRuleFor(info, text);
      if (rule >= 0) {
        f.keep_events_.push_back(static_cast<uint32_t>(rule));
        if (is_string) {
          out.putString(text);
        } else {
          out.put(text);
        }
        return Out::Written;
      }
      if (is_string && info.alive && looksLikeJsonContainer(text)) {
        return Out::Fallback;
      }
      f.keep_events_.push_back(info.accepted.front() | kContractFailedBit);
      return Out::Dropped;
    }
    if (info.alive) {
      if (kind == '{') {
        return object(state, node_depth, out);
      }
      if (kind == '[') {
        return array(state, node_depth, out);
      }
      if (kind == '"' && looksLikeJsonContainer(stringAt(at))) {
        return Out::Fallback;
      }
    }
    if (!skip(node_depth)) {
      return Out::Fallback;
    }
    ++unmatched;
    return Out::Dropped;
  }
};

bool LineFilter::fastPathFits(const RuleSet& rules, const FilterTrace* trace) const {
  return fast_path_ && indexer_ != nullptr && trace == nullptr &&
         rules.policy == rules::Policy::Allowlist && !rules.value_set && !rules.key_only_set &&
         limits_.max_scan_bytes >= limits_.max_line_bytes;
}

LineFilter::FastResult LineFilter::filterIndexed(std::string_view line, const RuleSet& rules,
                                                 std::string& out, FilterCounters& counters,
                                                 size_t& top_content) {
  if (line.size() > kIndexMaxLineBytes || line.find('\\') != std::string_view::npos) {
    return FastResult::Fallback;
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(line.data());
  if (indexer_->stage1(bytes, line.size(), simdjson::stage1_mode::regular) != simdjson::SUCCESS) {
    return FastResult::Fallback;
  }
  const uint32_t count = indexer_->n_structural_indexes;
  const uint32_t* index = indexer_->structural_indexes.get();
  if (count < 2 || line[index[0]] != '{') {
    return FastResult::Fallback;
  }
  keep_events_.clear();
  key_verdicts_.useRules(rules.id);
  if (fast_out_.size() < line.size()) {
    fast_out_.resize(line.size()); // grows to the longest line seen, at most kIndexMaxLineBytes
  }
  BoundedOutput written(fast_out_.data(), line.size());
  IndexWalk walk{*this, rules, line.data(), index, count};
  const IndexWalk::Out result = walk.object(rules.paths.start(), 0, written);
  // Bytes after the object ({"a":1}{"b":2}, or `{} x`) make the line invalid JSON.
  if (result == IndexWalk::Out::Fallback || walk.at != count || written.overflowed()) {
    return FastResult::Fallback;
  }
  out.assign(written.written());
  ++fast_lines_;
  top_content = walk.top_content;
  counters.fields_unmatched += walk.unmatched;
  counters.fields_key_rejected += walk.key_rejected;
  for (uint32_t event : keep_events_) {
    KeepRuleCounters& rule = counters.keep[event & ~kContractFailedBit];
    ++((event & kContractFailedBit) != 0 ? rule.contract_failed : rule.kept);
  }
  return result == IndexWalk::Out::Written ? FastResult::Written : FastResult::Dropped;
}

} // namespace scrub::filters
