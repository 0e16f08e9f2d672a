#include "rules/rule_set.h"

#include <algorithm>
#include <atomic>

#include "rules/digest.h"
#include "rules/equal_bytes.h"

namespace scrub::rules {

std::string_view policyName(Policy policy) {
  return policy == Policy::Allowlist ? "allowlist" : "redact";
}

std::string_view actionName(Action action) {
  switch (action) {
  case Action::Remove:
    return "remove";
  case Action::Mask:
    return "mask";
  case Action::Hash:
    return "hash";
  }
  return "remove";
}

bool RuleSet::envelope_key(std::string_view key) const {
  for (const auto& name : envelope) {
    if (equalBytes(name, key)) {
      return true;
    }
  }
  return false;
}

Status RuleSet::finalize() {
  static std::atomic<uint64_t> next_id{1};
  id = next_id.fetch_add(1);
  std::vector<PathPattern> paths;
  paths.reserve(keep.size());
  for (const auto& rule : keep) {
    paths.push_back(rule.path);
  }
  auto automaton = PathAutomaton::build(paths);
  if (!automaton.ok()) {
    return Error{"rules: " + automaton.error().message};
  }
  std::vector<bool> has_contract;
  for (auto& rule : keep) {
    has_contract.push_back(rule.value != nullptr);
    rule.fast = rule.value ? FastContract::recognise(rule.value->pattern()) : std::nullopt;
    rule.has_range = false;
    if (rule.value && !rule.fast) {
      // The range of a full match: compute it on the anchored form of the pattern.
      RE2::Options options;
      options.set_max_mem(kRegexMaxMem);
      options.set_log_errors(false);
      const RE2 anchored("^(?:" + rule.value->pattern() + ")$", options);
      rule.has_range =
          anchored.ok() && anchored.PossibleMatchRange(&rule.range_min, &rule.range_max, 16);
    }
  }
  this->paths = std::move(automaton.value());
  this->paths.markContracts(has_contract);

  RE2::Options options;
  options.set_max_mem(kRegexMaxMem * 4);
  options.set_log_errors(false);
  value_set = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
  key_only_set = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
  masks.clear();
  for (const auto& detector : detectors) {
    masks.push_back(maskFor(detector));
  }
  value_set_detector.clear();
  key_only_set_detector.clear();
  for (int i = 0; i < static_cast<int>(detectors.size()); ++i) {
    const Detector& d = detectors[i];
    std::string error;
    if (d.pattern) {
      if (value_set->Add(d.pattern->pattern(), &error) < 0) {
        return Error::at(d.pos, "deny '" + d.name + "': pattern: " + error);
      }
      value_set_detector.push_back(i);
    } else if (d.keys) {
      if (key_only_set->Add(d.keys->pattern(), &error) < 0) {
        return Error::at(d.pos, "deny '" + d.name + "': keys: " + error);
      }
      key_only_set_detector.push_back(i);
    }
  }
  top_key_kind.assign(this->paths.size(), kTopUnknown);
  for (const auto& [key, next] : this->paths.literals(this->paths.start())) {
    top_key_kind[next] |= envelope_key(key) ? kTopEnvelope : kTopContent;
  }
  // An empty RE2::Set cannot be compiled; leave it null and let the filter skip the pass.
  if (value_set_detector.empty()) {
    value_set.reset();
  } else if (!value_set->Compile()) {
    return Error{"rules: the combined deny patterns exceed the regex memory budget"};
  }
  if (key_only_set_detector.empty()) {
    key_only_set.reset();
  } else if (!key_only_set->Compile()) {
    return Error{"rules: the combined deny key patterns exceed the regex memory budget"};
  }
  return Ok{};
}

std::string RuleSet::maskFor(const Detector& detector) const {
  std::string out = mask_format;
  const std::string_view placeholder = "{rule}";
  for (size_t at = out.find(placeholder); at != std::string::npos;
       at = out.find(placeholder, at + detector.name.size())) {
    out.replace(at, placeholder.size(), detector.name);
  }
  return out;
}

std::string RuleSet::fingerprint() const {
  std::string all;
  for (const auto& source : sources) {
    all += source.sha256;
  }
  return sha256Hex(all).substr(0, 16);
}

} // namespace scrub::rules
