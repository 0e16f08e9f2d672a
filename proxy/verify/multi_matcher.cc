#include "proxy/verify/multi_matcher.h"

#include <algorithm>
#include <cassert>

namespace scrub::verify {
namespace {

// Full rows for this many of the shallowest states: 8 MiB, and past depth 2 or 3 a scan rarely
// stays long enough for the fallback along failure links to matter.
constexpr uint32_t kMaxDenseStates = 8192;

} // namespace

int MultiMatcher::add(std::string_view pattern) {
  assert(!built_);
  if (pattern.empty()) {
    return -1;
  }
  if (trie_.empty()) {
    trie_.emplace_back();
  }
  uint32_t node = 0;
  for (const char ch : pattern) {
    const auto c = static_cast<uint8_t>(ch);
    if (node == 0 && root_children_[c] != kNone) {
      node = root_children_[c];
      continue;
    }
    uint32_t child = trie_[node].first_child;
    while (child != kNone && trie_[child].byte != c) {
      child = trie_[child].next_sibling;
    }
    if (child == kNone) {
      child = static_cast<uint32_t>(trie_.size());
      BuildNode created;
      created.byte = c;
      created.next_sibling = trie_[node].first_child;
      trie_.push_back(created);
      trie_[node].first_child = child;
      if (node == 0) {
        root_children_[c] = child;
      }
    }
    node = child;
  }
  if (trie_[node].pattern == kNone) {
    trie_[node].pattern = static_cast<uint32_t>(lengths_.size());
    lengths_.push_back(static_cast<uint32_t>(pattern.size()));
  }
  return static_cast<int>(trie_[node].pattern);
}

void MultiMatcher::build() {
  assert(!built_);
  built_ = true;
  if (trie_.empty()) {
    trie_.emplace_back();
  }
  const size_t n = trie_.size();

  // Breadth-first numbering: failure links then always point to a smaller number.
  std::vector<uint32_t> order;
  order.reserve(n);
  std::vector<uint32_t> renumbered(n, kNone);
  order.push_back(0);
  renumbered[0] = 0;
  std::vector<uint32_t> children;
  edge_begin_.assign(n + 1, 0);
  edge_byte_.reserve(n - 1);
  edge_target_.reserve(n - 1);
  for (size_t head = 0; head < order.size(); ++head) {
    const uint32_t old = order[head];
    children.clear();
    for (uint32_t c = trie_[old].first_child; c != kNone; c = trie_[c].next_sibling) {
      children.push_back(c);
    }
    std::sort(children.begin(), children.end(),
              [&](uint32_t a, uint32_t b) { return trie_[a].byte < trie_[b].byte; });
    edge_begin_[head] = static_cast<uint32_t>(edge_byte_.size());
    for (uint32_t c : children) {
      renumbered[c] = static_cast<uint32_t>(order.size());
      order.push_back(c);
      edge_byte_.push_back(trie_[c].byte);
      edge_target_.push_back(renumbered[c]);
    }
  }
  edge_begin_[n] = static_cast<uint32_t>(edge_byte_.size());

  pattern_of_.assign(n, kNone);
  for (size_t s = 0; s < n; ++s) {
    pattern_of_[s] = trie_[order[s]].pattern;
  }
  std::vector<BuildNode>().swap(trie_);
  root_children_.fill(kNone);
  std::vector<uint32_t>().swap(renumbered);

  auto go = [&](uint32_t state, uint8_t c) -> uint32_t {
    for (uint32_t e = edge_begin_[state]; e < edge_begin_[state + 1]; ++e) {
      if (edge_byte_[e] == c) {
        return edge_target_[e];
      }
    }
    return kNone;
  };

  fail_.assign(n, 0);
  out_.assign(n, kNone);
  dict_.assign(n, kNone);
  dense_states_ = static_cast<uint32_t>(std::min<size_t>(n, kMaxDenseStates));
  dense_.assign(static_cast<size_t>(dense_states_) * 256, 0);
  // The full transition from `f` on `c`, for a state numbered below the one being linked (so
  // its row, or its failure chain, is complete).
  auto next = [&](uint32_t f, uint8_t c) -> uint32_t {
    for (;;) {
      if (f < dense_states_) {
        return dense_[static_cast<size_t>(f) * 256 + c];
      }
      const uint32_t to = go(f, c);
      if (to != kNone) {
        return to;
      }
      f = fail_[f];
    }
  };
  // One forward sweep: in breadth-first order a state's failure link (set by its parent) and
  // everything on its failure chain come before it.
  for (uint32_t s = 0; s < n; ++s) {
    if (s != 0) {
      dict_[s] = out_[fail_[s]];
    }
    out_[s] = pattern_of_[s] != kNone ? s : dict_[s];
    if (s < dense_states_) {
      uint32_t* row = &dense_[static_cast<size_t>(s) * 256];
      if (s != 0) {
        const uint32_t* fallback = &dense_[static_cast<size_t>(fail_[s]) * 256];
        std::copy(fallback, fallback + 256, row);
      }
      for (uint32_t e = edge_begin_[s]; e < edge_begin_[s + 1]; ++e) {
        row[edge_byte_[e]] = edge_target_[e];
      }
    }
    for (uint32_t e = edge_begin_[s]; e < edge_begin_[s + 1]; ++e) {
      fail_[edge_target_[e]] = s == 0 ? 0 : next(fail_[s], edge_byte_[e]);
    }
  }
}

bool MultiMatcher::any(std::string_view text) const {
  uint32_t state = 0;
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  for (size_t i = 0; i < text.size(); ++i) {
    state = step(state, bytes[i]);
    if (out_[state] != kNone) {
      return true;
    }
  }
  return false;
}

size_t MultiMatcher::memoryBytes() const {
  return dense_.size() * 4 + edge_begin_.size() * 4 + edge_byte_.size() + edge_target_.size() * 4 +
         (fail_.size() + out_.size() + dict_.size() + pattern_of_.size()) * 4 + lengths_.size() * 4;
}

} // namespace scrub::verify
