#pragma once

// The keep rules' path patterns compiled into a DFA over path steps, for the filter's hot path:
// one integer of state per open container, one lookup per key. Built once per RuleSet from the
// PathMatcher NFA by subset construction over the keys the patterns name (any other key takes
// the same "other" transition). Immutable and thread-safe after build().

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rules/equal_bytes.h"
#include "rules/path_matcher.h"
#include "rules/result.h"

namespace scrub::rules {

class PathAutomaton {
public:
  using StateId = uint32_t;
  static constexpr StateId kDead = 0; // no keep rule can match here or below

  struct StateInfo {
    std::vector<uint32_t> accepted; // keep rules matching this node, in rule order
    int first_free = -1;            // first accepted rule without a value contract
    bool alive = false;             // some rule may still match below this node
  };

  // Fails when the patterns need more than `max_states` DFA states (pathological rule sets).
  static Result<PathAutomaton> build(const std::vector<PathPattern>& patterns,
                                     size_t max_states = 4096);

  PathAutomaton() = default;

  StateId start() const { return start_; }
  // `by_wildcard` is set when no pattern names `key` literally here: only `*` or `**` let it
  // through, so the key itself is payload nobody vetted.
  StateId stepKey(StateId state, std::string_view key, bool& by_wildcard) const {
    const State& s = states_[state];
    const StateId* named = findLiteral(s, key);
    by_wildcard = named == nullptr && s.other != kDead;
    return named != nullptr ? *named : s.other;
  }
  StateId stepKey(StateId state, std::string_view key) const {
    const State& s = states_[state];
    const StateId* named = findLiteral(s, key);
    return named != nullptr ? *named : s.other;
  }
  StateId stepIndex(StateId state) const { return states_[state].index; }
  // The keys named in `state` and the states they lead to (every other key leads to the "other"
  // transition), for tables the RuleSet derives at load time.
  const std::vector<std::pair<std::string, StateId>>& literals(StateId state) const {
    return states_[state].literals;
  }
  const StateInfo& info(StateId state) const { return states_[state].info; }
  size_t size() const { return states_.size(); }

  // Whether rule `rule` has a value contract; set by the RuleSet so StateInfo::first_free is
  // right. (Patterns alone do not know about contracts.)
  void markContracts(const std::vector<bool>& has_contract);

private:
  struct State {
    std::vector<std::pair<std::string, StateId>> literals;
    uint64_t literal_lengths = 0; // lengthBit() of every literal: most keys are ruled out by it

    StateId other = kDead;
    StateId index = kDead;
    StateInfo info;
  };

  static const StateId* findLiteral(const State& s, std::string_view key) {
    if ((s.literal_lengths & lengthBit(key.size())) == 0) {
      return nullptr;
    }
    for (const auto& [literal, next] : s.literals) {
      if (equalBytes(literal, key)) {
        return &next;
      }
    }
    return nullptr;
  }

  std::vector<State> states_;
  StateId start_ = kDead;
};

} // namespace scrub::rules
