#include "rules/path_matcher.h"

#include <algorithm>

namespace scrub::rules {

PathMatcher::PathMatcher(const std::vector<PathPattern>& patterns) {
  for (uint32_t rule = 0; rule < patterns.size(); ++rule) {
    const auto& segments = patterns[rule].segments;
    starts_.push_back(static_cast<State>(nodes_.size()));
    for (const auto& segment : segments) {
      nodes_.push_back(Node{segment.kind, false, rule, segment.key});
    }
    nodes_.push_back(Node{PathSegment::Kind::Key, true, rule, {}});
  }
}

void PathMatcher::addWithClosure(State s, std::vector<State>& out) const {
  if (std::find(out.begin(), out.end(), s) != out.end()) {
    return;
  }
  out.push_back(s);
  if (!nodes_[s].accepting && nodes_[s].kind == PathSegment::Kind::AnyDepth) {
    addWithClosure(s + 1, out);
  }
}

void PathMatcher::start(std::vector<State>& out) const {
  out.clear();
  for (State s : starts_) {
    addWithClosure(s, out);
  }
}

void PathMatcher::stepKey(std::span<const State> from, std::string_view key,
                          std::vector<State>& out) const {
  out.clear();
  for (State s : from) {
    const Node& node = nodes_[s];
    if (node.accepting) {
      continue;
    }
    switch (node.kind) {
    case PathSegment::Kind::Key:
      if (node.key == key) {
        addWithClosure(s + 1, out);
      }
      break;
    case PathSegment::Kind::AnyKey:
      addWithClosure(s + 1, out);
      break;
    case PathSegment::Kind::AnyDepth:
      addWithClosure(s, out);
      break;
    case PathSegment::Kind::AnyIndex:
      break;
    }
  }
}

void PathMatcher::stepIndex(std::span<const State> from, std::vector<State>& out) const {
  out.clear();
  for (State s : from) {
    const Node& node = nodes_[s];
    if (node.accepting) {
      continue;
    }
    if (node.kind == PathSegment::Kind::AnyIndex) {
      addWithClosure(s + 1, out);
    } else if (node.kind == PathSegment::Kind::AnyDepth) {
      addWithClosure(s, out);
    }
  }
}

} // namespace scrub::rules
