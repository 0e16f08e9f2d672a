#pragma once

// A full-match matcher for the value contracts people write for log fields (uuids, timestamps,
// fixed message templates), without RE2's fixed cost per call: RE2 spends 70-90 ns on a 30-byte
// value whatever the pattern (set-up and its DFA cache lock; bench/filter_bench
// BM_ContractHolds), this matcher about a tenth of that.
//
// It takes only a small, unambiguous subset of RE2 syntax and refuses everything else (the
// contract then stays with RE2):
//  - ASCII literals and escaped punctuation; classes of ASCII bytes and ranges (`[0-9a-f]`, `\d`),
//    never negated; no `.`, no flags, no anchors except a leading `^` and a trailing `$`;
//  - repetition `?` `*` `+` `{m}` `{m,}` `{m,n}` on a literal or a class, only `?` on a group;
//  - groups `( )` / `(?: )` with alternatives, and alternatives at the top level.
// It matches in one pass without backtracking, so it also refuses a pattern where one pass could
// choose wrong: the alternatives of a group must start with different bytes, and a repetition or
// optional part may not be able to take a byte that what follows it could start with
// (`[a-z]*z` is refused; `[0-9]{1,9}(ms|s)` is fine). Top-level alternatives are tried one by
// one, so they may overlap. Only ASCII is accepted anywhere, where byte and UTF-8 (RE2's
// default) semantics agree.
//
// A pattern accepted here gives exactly RE2::FullMatch's answer; tests and a fuzz target
// (tests/fuzz/fast_contract_fuzz.cc) compare the two on generated patterns and texts.
//
// Before matching, each top-level alternative is ruled out by the text's first byte and length
// where it can be, and its fixed-width start (16 bytes or more of literals and runs of one
// length) is checked as a vector (fixed_layout.h); the rest is matched node by node.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/fixed_layout.h"

namespace scrub::rules {

class SimplePattern {
public:
  // nullopt when the pattern is outside the subset or needs backtracking.
  static std::optional<SimplePattern> compile(std::string_view pattern);

  bool fullMatch(std::string_view text) const;

private:
  // The bytes 0-127 (nothing else is ever accepted), one bit each.
  struct ByteSet {
    std::array<uint64_t, 2> bits{};

    bool has(unsigned char c) const { return c < 128 && ((bits[c >> 6] >> (c & 63)) & 1) != 0; }
    void add(unsigned char c) { bits[c >> 6] |= uint64_t{1} << (c & 63); }
    void add(const ByteSet& other) {
      bits[0] |= other.bits[0];
      bits[1] |= other.bits[1];
    }
    bool meets(const ByteSet& other) const {
      return ((bits[0] & other.bits[0]) | (bits[1] & other.bits[1])) != 0;
    }
  };

  struct Node;
  using Sequence = std::vector<Node>;
  struct Node {
    enum class Kind : uint8_t { Literal, Run, Group };
    Kind kind = Kind::Literal;
    std::string literal;               // Literal: these bytes, once
    ByteSet set;                       // Run: min to max bytes of this set
    std::array<uint8_t, 256> in_set{}; // Run: 1 for the bytes of `set`, one load per byte
    uint32_t min = 1;
    uint32_t max = 1;
    std::vector<Sequence> alternatives; // Group: one of these (chosen by its first byte)
    bool optional = false;              // Group: or nothing
    // Filled by the analysis: the bytes this node can start with, and whether it can be empty;
    // for a group, each alternative's first bytes and the one that can be empty (or -1).
    ByteSet first;
    bool nullable = false;
    std::vector<ByteSet> alternative_first;
    int empty_alternative = -1;
  };

  class Parser;
  static bool analyse(Sequence& sequence, const ByteSet& follow);
  // Adds to `first` the bytes an analysed sequence can start with; true when it can be empty.
  static bool startOf(const Sequence& sequence, ByteSet& first);
  static bool matchNodes(const Node* node, const Node* last, const char*& at, const char* end);
  static bool matchSequence(const Sequence& sequence, const char*& at, const char* end) {
    return matchNodes(sequence.data(), sequence.data() + sequence.size(), at, end);
  }

  // A top-level alternative, with what rules it out before matching: most texts a contract
  // sees break it (a free-text message against five templates), and fail on the first byte.
  struct Branch {
    Sequence sequence;
    ByteSet first;         // the bytes a non-empty match starts with
    bool nullable = false; // it can match the empty text
    size_t min_length = 0; // no shorter text matches
    // Its fixed-width start (literals and runs of one length), checked as one vector, and how
    // many of its nodes that covers.
    std::optional<FixedLayout> layout;
    size_t layout_nodes = 0;
  };
  static void buildLayout(Branch& branch);
  static size_t minLength(const Sequence& sequence);

  std::vector<Branch> branches_; // top-level alternatives, each matched from the start, in turn
};

} // namespace scrub::rules
