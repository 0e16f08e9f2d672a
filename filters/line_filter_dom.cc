// The allowlist's fast path: simdjson's DOM parser validates the whole line in one pass (grammar,
// UTF-8, escapes, numbers, atoms, depth) at close to its full speed, and the walk then reads the
// tape, where keys and strings are already unescaped and a subtree no rule reaches is skipped by
// one jump. The On Demand walk (line_filter.cc) has to visit and check every value itself to fail
// closed, which made it the larger half of the cost.
//
// The tape keeps values, not their bytes, so this path only takes lines whose output it can write
// byte for byte as the On Demand walk would, and hands every other line back (Fallback) before it
// has changed anything but its own scratch:
//  - the rule set is an allowlist without detectors, nobody asked for a trace, and the scan budget
//    cannot be exceeded by key checks alone (LineFilter::domFits);
//  - the line holds no backslash: then every string's bytes between its quotes are its text
//    (and it is at most kDomMaxLineBytes long, which bounds the DOM parser's memory);
//  - the DOM parse succeeds: an invalid line is judged by the On Demand walk, which tells
//    invalid_json, invalid_utf8 and too_deep apart (and passes 1e400, which the DOM rejects);
//  - every number that is written is a non-zero integer (its text is then the decimal form of
//    its value; a zero may have been written `-0`, a double in many ways);
//  - no keep rule without a value contract is reached (below it everything is written as it was)
//    and no string that may hold JSON is reached where a rule could look inside it.
// Counter updates wait in LineFilter::keep_events_ until the line is decided, so a line handed
// back is not counted twice. A differential test and the fuzz target check that both walks give
// the same output, drop reason and counters.

#include <charconv>
#include <cstring>

#include "filters/embedded_json.h"
#include "filters/json_escape.h"
#include "filters/line_filter.h"
#include "rules/equal_bytes.h"

namespace scrub::filters {
namespace {

namespace dom = simdjson::dom;
using rules::PathAutomaton;
using rules::RuleSet;
using StateId = PathAutomaton::StateId;

// keep_events_ entries: a keep rule's index, with this bit set when its contract failed.
constexpr uint32_t kContractFailedBit = 1u << 31;

// simdjson's DOM tape, read directly. The layout is simdjson's documented tape format
// (doc/tape.md in simdjson): one 64-bit word per node, its type character in the top byte;
// `{` and `[` hold the index just past their closing word, a string the offset of its 32-bit
// length and bytes in the string buffer, a number its value in the next word. Going through
// dom::element instead cost more than the walk's own work (a type mapping, a pointer chase and a
// bounds-free switch per call). Should the layout ever change, the differential test and the
// fuzz target (both walks must agree on every line) fail.
class Tape {
public:
  explicit Tape(const dom::document& doc)
      : words_(doc.tape.get()), strings_(doc.string_buf.get()) {}

  static constexpr size_t kRoot = 1; // word 0 is the root marker

  char type(size_t at) const { return static_cast<char>(words_[at] >> 56); }
  static bool isContainer(char type) { return type == '{' || type == '['; }
  // The index of the node after the value at `at`.
  // Selects instead of a switch: the next value's type changes from field to field, so the
  // switch's branch was hard to predict (measured with the digit-contract change: +1-2% together).
  size_t after(size_t at) const {
    const uint64_t word = words_[at];
    const char t = static_cast<char>(word >> 56);
    const size_t scalar_end = at + 1 + static_cast<size_t>(t == 'l' || t == 'u' || t == 'd');
    return isContainer(t) ? static_cast<uint32_t>(word) : scalar_end;
  }
  std::string_view string(size_t at) const {
    const uint8_t* entry = strings_ + (words_[at] & kPayloadMask);
    uint32_t length = 0;
    std::memcpy(&length, entry, sizeof length);
    return {reinterpret_cast<const char*>(entry + sizeof length), length};
  }
  int64_t int64After(size_t at) const {
    int64_t value = 0;
    std::memcpy(&value, &words_[at + 1], sizeof value);
    return value;
  }
  uint64_t uint64After(size_t at) const { return words_[at + 1]; }

private:
  static constexpr uint64_t kPayloadMask = 0x00FFFFFFFFFFFFFF;
  const uint64_t* words_;
  const uint8_t* strings_;
};

// The walk's output, written into a buffer as long as the line. Everything the walk writes stands
// for bytes of the line in the same order (braces, a comma only between fields that had one, keys
// and strings verbatim, integers in the only form JSON allows them), so the output never outgrows
// the line; the bound is still checked, and a walk that would cross it hands the line back.
// Cheaper than std::string's appends, which keep a size, a terminator and a capacity check each.
class DomOut {
public:
  DomOut(char* begin, size_t capacity) : begin_(begin), at_(begin), end_(begin + capacity) {}

  void put(char c) {
    if (at_ == end_) [[unlikely]] {
      overflow_ = true;
      return;
    }
    *at_++ = c;
  }
  void put(std::string_view bytes) {
    if (static_cast<size_t>(end_ - at_) < bytes.size()) [[unlikely]] {
      overflow_ = true;
      return;
    }
    std::memcpy(at_, bytes.data(), bytes.size());
    at_ += bytes.size();
  }
  // `"body":` for a key whose bytes are a valid JSON string body as they stand.
  void putKey(std::string_view body) { putQuoted(body, true); }
  // `"body"` for a string value whose bytes are a valid JSON string body as they stand.
  void putString(std::string_view body) { putQuoted(body, false); }

  size_t size() const { return static_cast<size_t>(at_ - begin_); }
  void truncate(size_t size) { at_ = begin_ + size; }
  bool overflowed() const { return overflow_; }
  std::string_view written() const { return {begin_, size()}; }

private:
  // One bound check for the whole write: this runs for every key and string written.
  void putQuoted(std::string_view body, bool colon) {
    if (static_cast<size_t>(end_ - at_) < body.size() + (colon ? 3 : 2)) [[unlikely]] {
      overflow_ = true;
      return;
    }
    *at_++ = '"';
    copyShort(at_, body);
    at_ += body.size();
    *at_++ = '"';
    if (colon) {
      *at_++ = ':';
    }
  }

  // Keys and kept values are mostly under 16 bytes: two overlapping moves instead of a call to
  // memcpy, which cost more than the copy at these sizes (measured: FilterByLineType).
  static void copyShort(char* to, std::string_view bytes) {
    const size_t n = bytes.size();
    const char* from = bytes.data();
    if (n >= 8 && n <= 16) {
      const uint64_t head = rules::loadWord64(from);
      const uint64_t tail = rules::loadWord64(from + n - 8);
      std::memcpy(to, &head, 8);
      std::memcpy(to + n - 8, &tail, 8);
    } else if (n >= 4 && n < 8) {
      const uint32_t head = rules::loadWord32(from);
      const uint32_t tail = rules::loadWord32(from + n - 4);
      std::memcpy(to, &head, 4);
      std::memcpy(to + n - 4, &tail, 4);
    } else if (n > 16) {
      std::memcpy(to, from, n);
    } else {
      for (size_t i = 0; i < n; ++i) {
        to[i] = from[i];
      }
    }
  }

  char* begin_;
  char* at_;
  char* end_;
  bool overflow_ = false;
};

} // namespace

struct LineFilter::DomWalk {
  enum class Out : uint8_t { Dropped, Written, Fallback };

  LineFilter& f;
  const RuleSet& rules;
  const Tape tape;
  size_t unmatched = 0;
  size_t key_rejected = 0;
  size_t top_content = 0;

  bool tooDeep(size_t node_depth) const { return node_depth + 1 > f.limits_.max_depth; }

  // The same cache and answer as the On Demand walk's keyVerdict, for rule sets without
  // detectors (where only wildcard_ok is asked).
  bool wildcardKeyOk(std::string_view key) {
    if (const KeyVerdict* known = f.key_verdicts_.find(key)) {
      return known->wildcard_ok;
    }
    const bool ok = rules.wildcardKeyAllowed(key);
    f.key_verdicts_.insert(key, KeyVerdict{-1, -1, ok});
    return ok;
  }

  // The On Demand walk's dropPlainScalar: true when the value is a scalar no keep rule accepts
  // and no rule can find JSON in, so it is dropped without writing its key.
  bool plainDrop(size_t value, char type, const PathAutomaton::StateInfo& info) const {
    if (!info.accepted.empty() || Tape::isContainer(type)) {
      return false;
    }
    if (type != '"') {
      return true;
    }
    const std::string_view text = tape.string(value);
    size_t i = 0;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) {
      ++i;
    }
    return i == text.size() || (text[i] != '{' && text[i] != '[');
  }

  Out object(size_t at, StateId state, size_t node_depth, DomOut& out) {
    if (tooDeep(node_depth)) {
      return Out::Fallback;
    }
    const size_t start = out.size();
    out.put('{');
    bool any = false;
    const bool top = node_depth == 0;
    const size_t close = tape.after(at) - 1;
    for (size_t key_at = at + 1; key_at < close;) {
      const size_t value = key_at + 1;
      const size_t next = tape.after(value);
      const std::string_view key = tape.string(key_at);
      key_at = next;
      bool by_wildcard = false;
      const StateId child = rules.paths.stepKey(state, key, by_wildcard);
      if (child == PathAutomaton::kDead) {
        ++unmatched;
        continue;
      }
      const char type = tape.type(value);
      const PathAutomaton::StateInfo& info = rules.paths.info(child);
      if (plainDrop(value, type, info)) {
        ++unmatched;
        continue;
      }
      if (by_wildcard && !wildcardKeyOk(key)) {
        ++key_rejected;
        continue;
      }
      const size_t mark = out.size();
      if (any) {
        out.put(',');
      }
      // No backslash in the line: the key's text is a valid JSON string body as it stands.
      out.putKey(key);
      const Out result = element(value, type, child, info, node_depth + 1, out);
      if (result == Out::Fallback) {
        return result;
      }
      if (result == Out::Dropped) {
        out.truncate(mark);
        continue;
      }
      any = true;
      // finishLine only asks whether some written top-level field is not envelope.
      if (top && top_content == 0 && !rules.topLevelEnvelope(key, child, by_wildcard)) {
        top_content = 1;
      }
    }
    out.put('}');
    if (!any) {
      out.truncate(start);
      return Out::Dropped;
    }
    return Out::Written;
  }

  Out array(size_t at, StateId state, size_t node_depth, DomOut& out) {
    if (tooDeep(node_depth)) {
      return Out::Fallback;
    }
    const size_t close = tape.after(at) - 1;
    const StateId child = rules.paths.stepIndex(state);
    if (child == PathAutomaton::kDead) {
      for (size_t item = at + 1; item < close; item = tape.after(item)) {
        ++unmatched;
      }
      return Out::Dropped;
    }
    const PathAutomaton::StateInfo& info = rules.paths.info(child);
    const size_t start = out.size();
    out.put('[');
    bool any = false;
    for (size_t item = at + 1; item < close;) {
      const size_t value = item;
      item = tape.after(value);
      const char type = tape.type(value);
      if (plainDrop(value, type, info)) {
        ++unmatched;
        continue;
      }
      const size_t mark = out.size();
      if (any) {
        out.put(',');
      }
      const Out result = element(value, type, child, info, node_depth + 1, out);
      if (result == Out::Fallback) {
        return result;
      }
      if (result == Out::Dropped) {
        out.truncate(mark);
      } else {
        any = true;
      }
    }
    out.put(']');
    if (!any) {
      out.truncate(start);
      return Out::Dropped;
    }
    return Out::Written;
  }

  // The On Demand walk's walkValue, Guided mode, for a rule set without detectors.
  Out element(size_t value, char type, StateId state, const PathAutomaton::StateInfo& info,
              size_t node_depth, DomOut& out) {
    if (info.first_free >= 0) {
      return Out::Fallback;
    }
    const bool container = Tape::isContainer(type);
    if (!info.accepted.empty() && !container) {
      char digits[24];
      std::string_view text;
      if (!scalarText(value, type, digits, text)) {
        return Out::Fallback;
      }
      const int rule = rules.firstKeepRuleFor(info, text);
      if (rule >= 0) {
        f.keep_events_.push_back(static_cast<uint32_t>(rule));
        if (type == '"') {
          out.putString(text);
        } else {
          out.put(text);
        }
        return Out::Written;
      }
      if (type == '"' && info.alive && looksLikeJsonContainer(text)) {
        return Out::Fallback;
      }
      f.keep_events_.push_back(info.accepted.front() | kContractFailedBit);
      return Out::Dropped;
    }
    if (info.alive) {
      if (type == '{') {
        return object(value, state, node_depth, out);
      }
      if (type == '[') {
        return array(value, state, node_depth, out);
      }
      if (type == '"' && looksLikeJsonContainer(tape.string(value))) {
        return Out::Fallback;
      }
    }
    ++unmatched;
    return Out::Dropped;
  }

  // The text contracts see: a string's text, a literal's, or a number's decimal digits when its
  // text is known from the value alone (false otherwise).
  bool scalarText(size_t value, char type, char (&digits)[24], std::string_view& text) const {
    switch (type) {
    case '"':
      text = tape.string(value);
      return true;
    case 'l': {
      const int64_t n = tape.int64After(value);
      if (n == 0) {
        return false;
      }
      const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
      text = std::string_view(digits, static_cast<size_t>(end - digits));
      return true;
    }
    case 'u': {
      const auto end = std::to_chars(digits, digits + sizeof digits, tape.uint64After(value)).ptr;
      text = std::string_view(digits, static_cast<size_t>(end - digits));
      return true;
    }
    case 't':
      text = "true";
      return true;
    case 'f':
      text = "false";
      return true;
    case 'n':
      text = "null";
      return true;
    default:
      return false;
    }
  }
};

bool LineFilter::domFits(const RuleSet& rules, const FilterTrace* trace) const {
  return dom_fast_path_ && dom_ready_ && trace == nullptr &&
         rules.policy == rules::Policy::Allowlist && !rules.value_set && !rules.key_only_set &&
         limits_.max_scan_bytes >= limits_.max_line_bytes;
}

LineFilter::DomResult LineFilter::filterDom(std::string_view line, const RuleSet& rules,
                                            std::string& out, FilterCounters& counters,
                                            size_t& top_content) {
  if (line.size() > kDomMaxLineBytes || line.find('\\') != std::string_view::npos) {
    return DomResult::Fallback;
  }
  dom::element root;
  if (dom_parser_.parse(line.data(), line.size(), false).get(root) ||
      root.type() != dom::element_type::OBJECT) {
    return DomResult::Fallback;
  }
  keep_events_.clear();
  key_verdicts_.useRules(rules.id);
  if (dom_out_.size() < line.size()) {
    dom_out_.resize(line.size()); // grows to the longest line seen, at most kDomMaxLineBytes
  }
  DomOut written(dom_out_.data(), line.size());
  DomWalk walk{*this, rules, Tape(dom_parser_.doc)};
  const DomWalk::Out result = walk.object(Tape::kRoot, rules.paths.start(), 0, written);
  if (result == DomWalk::Out::Fallback || written.overflowed()) {
    return DomResult::Fallback;
  }
  out.assign(written.written());
  ++dom_lines_;
  top_content = walk.top_content;
  counters.fields_unmatched += walk.unmatched;
  counters.fields_key_rejected += walk.key_rejected;
  for (uint32_t event : keep_events_) {
    KeepRuleCounters& rule = counters.keep[event & ~kContractFailedBit];
    ++((event & kContractFailedBit) != 0 ? rule.contract_failed : rule.kept);
  }
  return result == DomWalk::Out::Written ? DomResult::Written : DomResult::Dropped;
}

} // namespace scrub::filters
