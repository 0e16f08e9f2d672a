#pragma once

// The current rules of one listener. The main thread swaps in a whole new immutable RuleSet on
// reload; worker threads check the generation once per read (one acquire load) and copy the
// pointer only when it changed, so a swap lands between lines and a line is always filtered by
// one rule set from start to end. A rule set stays alive while any worker still holds it.

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "rules/rule_set.h"

namespace scrub::proxy {

class RuleSlot {
public:
  RuleSlot(std::vector<std::string> specs, rules::RuleSetPtr rules)
      : specs_(std::move(specs)), rules_(std::move(rules)) {}

  // Main thread only (workers never read them): what reload() loads.
  const std::vector<std::string>& specs() const { return specs_; }
  void setSpecs(std::vector<std::string> specs) { specs_ = std::move(specs); }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  rules::RuleSetPtr get() const {
    std::lock_guard lock(mutex_);
    return rules_;
  }

  void set(rules::RuleSetPtr rules) {
    {
      std::lock_guard lock(mutex_);
      rules_ = std::move(rules);
    }
    generation_.fetch_add(1, std::memory_order_release);
  }

private:
  std::vector<std::string> specs_;
  mutable std::mutex mutex_;
  rules::RuleSetPtr rules_;
  std::atomic<uint64_t> generation_{1};
};

} // namespace scrub::proxy
