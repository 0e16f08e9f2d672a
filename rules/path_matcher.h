#pragma once

// Runs every keep rule's path pattern at once over a document walk: a small NFA whose states are
// (rule, position) pairs. The walker keeps the live state set of each open container; a set
// that becomes empty means no keep rule can reach anything below, so the subtree is skipped.
// Immutable after construction, thread-safe; callers own the state vectors (no allocation
// once they have grown).

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "rules/path_pattern.h"

namespace scrub::rules {

class PathMatcher {
public:
  using State = uint32_t;

  PathMatcher() = default;
  explicit PathMatcher(const std::vector<PathPattern>& patterns);

  // The states before the first step (the document root).
  void start(std::vector<State>& out) const;
  // The states after stepping into object member `key` / any array element.
  void stepKey(std::span<const State> from, std::string_view key, std::vector<State>& out) const;
  void stepIndex(std::span<const State> from, std::vector<State>& out) const;

  // Calls fn(rule_index) for every pattern that matches the node these states describe.
  template <typename Fn> void forEachAccepted(std::span<const State> states, Fn&& fn) const {
    for (State s : states) {
      if (nodes_[s].accepting) {
        fn(nodes_[s].rule);
      }
    }
  }
  bool anyAccepted(std::span<const State> states) const {
    for (State s : states) {
      if (nodes_[s].accepting) {
        return true;
      }
    }
    return false;
  }

private:
  struct Node {
    PathSegment::Kind kind = PathSegment::Kind::Key; // of the segment to consume next
    bool accepting = false;                          // pattern fully consumed
    uint32_t rule = 0;
    std::string key;
  };
  // Adds `s` and, through any `**` that may match nothing, the states after it.
  void addWithClosure(State s, std::vector<State>& out) const;

  std::vector<Node> nodes_;
  std::vector<State> starts_;
};

} // namespace scrub::rules
