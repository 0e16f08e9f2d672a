#include "rules/path_automaton.h"

#include <algorithm>
#include <map>
#include <set>

namespace scrub::rules {

Result<PathAutomaton> PathAutomaton::build(const std::vector<PathPattern>& patterns,
                                           size_t max_states) {
  const PathMatcher nfa(patterns);
  PathAutomaton dfa;
  std::map<std::vector<PathMatcher::State>, StateId> ids;
  std::vector<std::vector<PathMatcher::State>> sets;

  // Keys named anywhere in the patterns: every other key behaves the same in every state.
  std::set<std::string> literals;
  for (const auto& pattern : patterns) {
    for (const auto& segment : pattern.segments) {
      if (segment.kind == PathSegment::Kind::Key) {
        literals.insert(segment.key);
      }
    }
  }
  // A key that no pattern names; the transition on it is the "other" transition.
  std::string other_key = "\x01";
  while (literals.count(other_key) > 0) {
    other_key.push_back('\x01');
  }

  auto intern = [&](std::vector<PathMatcher::State> set) -> StateId {
    std::sort(set.begin(), set.end());
    if (auto it = ids.find(set); it != ids.end()) {
      return it->second;
    }
    const auto id = static_cast<StateId>(sets.size());
    ids.emplace(set, id);
    sets.push_back(std::move(set));
    dfa.states_.emplace_back();
    return id;
  };

  intern({}); // kDead
  std::vector<PathMatcher::State> scratch;
  nfa.start(scratch);
  dfa.start_ = intern(scratch);

  for (StateId id = 0; id < sets.size(); ++id) {
    if (sets.size() > max_states) {
      return Error{"keep paths need more than " + std::to_string(max_states) +
                   " automaton states; simplify the `**` and `*` patterns"};
    }
    const std::vector<PathMatcher::State> set = sets[id]; // copy: `sets` grows below
    State state;
    nfa.forEachAccepted(set, [&](uint32_t rule) { state.info.accepted.push_back(rule); });
    std::sort(state.info.accepted.begin(), state.info.accepted.end());
    state.info.alive = set.size() > state.info.accepted.size();

    nfa.stepKey(set, other_key, scratch);
    state.other = intern(scratch);
    for (const auto& key : literals) {
      nfa.stepKey(set, key, scratch);
      std::sort(scratch.begin(), scratch.end());
      const StateId next = intern(scratch);
      if (next != state.other) {
        state.literals.emplace_back(key, next);
        state.literal_lengths |= lengthBit(key.size());
      }
    }
    nfa.stepIndex(set, scratch);
    state.index = intern(scratch);
    dfa.states_[id] = std::move(state);
  }
  return dfa;
}

void PathAutomaton::markContracts(const std::vector<bool>& has_contract) {
  for (auto& state : states_) {
    state.info.first_free = -1;
    for (uint32_t rule : state.info.accepted) {
      if (!has_contract[rule]) {
        state.info.first_free = static_cast<int>(rule);
        break;
      }
    }
  }
}

} // namespace scrub::rules
