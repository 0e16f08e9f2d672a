#pragma once

// Finds every occurrence of many byte strings in one pass over a text (Aho-Corasick). `verify`
// searches each output line for thousands of canaries in dozens of forms each; one pass per
// pattern, or a regex alternation, would not keep up.
//
// Why not RE2::Set (literal patterns): it scans about as fast at 40,000 patterns, but gives no
// match offsets (digit boundaries need them), drops to 4 MB/s on text dense with hits, and
// crashed (stack overflow simplifying the alternation) at 600,000 patterns. Measurements in
// README.md, "Verifying: log-leak tests".
//
// Layout: the trie is numbered breadth-first. The shallowest states (where a scan spends most of
// its time) get full 256-entry transition rows with failures already resolved; deeper states
// keep sorted edge lists and fall back along failure links, which always lead to shallower
// states. Memory is linear in the total pattern length.
//
// Build once (add... then build()), then scan from any number of threads: scan() is const.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace scrub::verify {

class MultiMatcher {
public:
  // Adds a pattern and returns its id (ids count from 0 in order of add; an identical pattern
  // added twice gets the first one's id). Empty patterns are refused with -1.
  int add(std::string_view pattern);
  // Compiles the automaton. No add() after this.
  void build();

  size_t patternCount() const { return lengths_.size(); }
  size_t stateCount() const { return fail_.size(); }
  size_t patternLength(int id) const { return lengths_[static_cast<size_t>(id)]; }
  size_t memoryBytes() const;

  // Calls on_match(pattern id, end offset one past the match) for every occurrence, overlapping
  // ones included, in order of end offset.
  template <typename OnMatch> void scan(std::string_view text, OnMatch&& on_match) const {
    uint32_t state = 0;
    const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
    for (size_t i = 0; i < text.size(); ++i) {
      state = step(state, bytes[i]);
      for (uint32_t s = out_[state]; s != kNone; s = dict_[s]) {
        on_match(static_cast<int>(pattern_of_[s]), i + 1);
      }
    }
  }

  // True when any pattern occurs; stops at the first.
  bool any(std::string_view text) const;

private:
  static constexpr uint32_t kNone = UINT32_MAX;
  static std::array<uint32_t, 256> filledRoot() {
    std::array<uint32_t, 256> table;
    table.fill(kNone);
    return table;
  }

  uint32_t step(uint32_t state, uint8_t c) const {
    for (;;) {
      if (state < dense_states_) {
        return dense_[static_cast<size_t>(state) * 256 + c];
      }
      const uint32_t begin = edge_begin_[state];
      const uint32_t end = edge_begin_[state + 1];
      for (uint32_t e = begin; e < end; ++e) {
        if (edge_byte_[e] == c) {
          return edge_target_[e];
        }
        if (edge_byte_[e] > c) {
          break;
        }
      }
      state = fail_[state];
    }
  }

  // Build-time trie: first-child / next-sibling lists keep it compact for millions of nodes.
  struct BuildNode {
    uint32_t first_child = kNone;
    uint32_t next_sibling = kNone;
    uint32_t pattern = kNone;
    uint8_t byte = 0;
  };
  std::vector<BuildNode> trie_;
  std::array<uint32_t, 256> root_children_ = filledRoot(); // the root's fan-out is the widest
  std::vector<uint32_t> lengths_;
  bool built_ = false;

  // Scan-time automaton, states numbered breadth-first.
  uint32_t dense_states_ = 0;
  std::vector<uint32_t> dense_;      // dense_states_ rows of 256 next states
  std::vector<uint32_t> edge_begin_; // per state, into the edge arrays (sorted by byte)
  std::vector<uint8_t> edge_byte_;
  std::vector<uint32_t> edge_target_;
  std::vector<uint32_t> fail_;
  std::vector<uint32_t> out_;        // first state on the failure chain that ends a pattern
  std::vector<uint32_t> dict_;       // next such state after this one
  std::vector<uint32_t> pattern_of_; // the pattern a state ends, or kNone
};

} // namespace scrub::verify
