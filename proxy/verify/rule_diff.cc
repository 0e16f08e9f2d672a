#include "proxy/verify/rule_diff.h"

#include <map>
#include <optional>

#include "rules/detector_match.h"
#include "rules/path_pattern.h"
#include "rules/regex_sampler.h"

namespace scrub::verify {
namespace {

using rules::Action;
using rules::Detector;
using rules::KeepRule;
using rules::RuleSet;
using Kind = DiffFinding::Kind;

constexpr size_t kSamples = 300;

// How much of a detected value survives each action: remove leaves nothing, a mask leaves the
// rest of the text, a hash also leaves a linkable pseudonym.
int strength(Action action) {
  switch (action) {
  case Action::Remove:
    return 2;
  case Action::Mask:
    return 1;
  case Action::Hash:
    return 0;
  }
  return 0;
}

std::string pattern(const std::unique_ptr<const RE2>& re) {
  return re ? re->pattern() : "";
}

std::string quoted(const std::string& text) {
  constexpr size_t kMax = 60;
  return "'" + (text.size() > kMax ? text.substr(0, kMax) + "..." : text) + "'";
}

// A concrete path the pattern matches: `*` becomes a key no rule is likely to name, `**`
// nothing, `[]` an element.
std::string examplePath(const rules::PathPattern& path) {
  std::string out;
  for (const auto& segment : path.segments) {
    switch (segment.kind) {
    case rules::PathSegment::Kind::Key:
      rules::appendPathKey(out, segment.key);
      break;
    case rules::PathSegment::Kind::AnyKey:
      rules::appendPathKey(out, "any_key");
      break;
    case rules::PathSegment::Kind::AnyIndex:
      rules::appendPathIndex(out);
      break;
    case rules::PathSegment::Kind::AnyDepth:
      break;
    }
  }
  return out.empty() ? "." : out;
}

// An example value `wider`'s contract accepts and `narrower`'s does not, if sampling finds one.
std::optional<std::string> contractWitness(const KeepRule& wider, const KeepRule& narrower) {
  if (!wider.value) {
    return std::nullopt;
  }
  const auto samples = rules::sampleRegex(wider.value->pattern(), kSamples, 11);
  if (!samples) {
    return std::nullopt;
  }
  for (const auto& sample : *samples) {
    if (wider.contractHolds(sample) && !narrower.contractHolds(sample)) {
      return sample;
    }
  }
  return std::nullopt;
}

bool detectorFinds(const Detector& detector, const std::string& text) {
  std::vector<rules::MatchSpan> spans;
  return rules::findDetectorSpans(detector, 0, text, spans);
}

// A value the old detector catches and the new one does not, if sampling finds one. Samples
// are also tried with every last digit, so that validated detectors (luhn, jmbg) see valid ones.
std::optional<std::string> detectorWitness(const Detector& old_d, const Detector& new_d) {
  if (!old_d.pattern || !new_d.pattern) {
    return std::nullopt;
  }
  const auto samples = rules::sampleRegex(old_d.pattern->pattern(), kSamples, 12);
  if (!samples) {
    return std::nullopt;
  }
  for (const auto& sample : *samples) {
    std::vector<std::string> variants = {sample};
    const size_t last = sample.find_last_of("0123456789");
    if (last != std::string::npos) {
      for (char d = '0'; d <= '9'; ++d) {
        variants.push_back(sample);
        variants.back()[last] = d;
      }
    }
    for (const auto& v : variants) {
      if (detectorFinds(old_d, v) && !detectorFinds(new_d, v)) {
        return v;
      }
    }
  }
  return std::nullopt;
}

// Does `old_rule` already let through everything `new_rule` lets through?
bool keepCovers(const KeepRule& old_rule, const KeepRule& new_rule) {
  if (!rules::pathCovers(old_rule.path, new_rule.path, !old_rule.value)) {
    return false;
  }
  if (!old_rule.value) {
    return true;
  }
  return new_rule.value && new_rule.value->pattern() == old_rule.value->pattern();
}

void diffKeep(const RuleSet& o, const RuleSet& n, std::vector<DiffFinding>& out) {
  const bool redact = n.policy == rules::Policy::Redact;
  const char* verb = redact ? "exempts from the detectors" : "keeps";
  std::map<std::string, const KeepRule*> old_by_path;
  for (const auto& rule : o.keep) {
    old_by_path.emplace(rule.path.text, &rule);
  }
  std::map<std::string, const KeepRule*> new_by_path;
  for (const auto& rule : n.keep) {
    new_by_path.emplace(rule.path.text, &rule);
  }
  for (const auto& rule : n.keep) {
    bool covered = false;
    for (const auto& old_rule : o.keep) {
      covered = covered || keepCovers(old_rule, rule);
    }
    if (covered) {
      continue;
    }
    const auto same = old_by_path.find(rule.path.text);
    if (same == old_by_path.end()) {
      out.push_back({Kind::Widened, rule.name,
                     std::string("new keep rule: ") + verb + " paths no old rule did, e.g. " +
                         examplePath(rule.path) +
                         (rule.value ? " (values matching " + quoted(pattern(rule.value)) + ")"
                                     : " (any value, and everything below it)")});
      continue;
    }
    const KeepRule& old_rule = *same->second;
    if (!rule.value) {
      out.push_back({Kind::Widened, rule.name,
                     "value contract dropped (was " + quoted(pattern(old_rule.value)) +
                         "): any value at " + rule.path.text + " and everything below it"});
    } else if (auto example = contractWitness(rule, old_rule)) {
      out.push_back({Kind::Widened, rule.name,
                     "value contract widened from " + quoted(pattern(old_rule.value)) + " to " +
                         quoted(pattern(rule.value)) + ", e.g. " + quoted(*example) +
                         " now passes"});
    } else {
      out.push_back({Kind::MayWiden, rule.name,
                     "value contract changed from " + quoted(pattern(old_rule.value)) + " to " +
                         quoted(pattern(rule.value)) + "; no sampled value shows it wider"});
    }
  }
  for (const auto& old_rule : o.keep) {
    if (new_by_path.count(old_rule.path.text) > 0) {
      continue;
    }
    if (redact && old_rule.value) {
      // In redact, a broken contract removes the value; without the rule it only meets the
      // detectors, which do not know what the contract knew.
      out.push_back({Kind::Widened, old_rule.name,
                     "keep rule removed: values at " + old_rule.path.text + " that break " +
                         quoted(pattern(old_rule.value)) +
                         " were removed, now they pass unless a detector finds them"});
    } else {
      out.push_back(
          {Kind::Narrowed, old_rule.name,
           redact ? "exemption removed: the detectors now run there" : "keep rule removed"});
    }
  }
}

void diffDetectors(const RuleSet& o, const RuleSet& n, std::vector<DiffFinding>& out) {
  std::map<std::string, const Detector*> new_by_name;
  for (const auto& d : n.detectors) {
    new_by_name.emplace(d.name, &d);
  }
  std::map<std::string, const Detector*> old_by_name;
  for (const auto& d : o.detectors) {
    old_by_name.emplace(d.name, &d);
  }
  for (const auto& old_d : o.detectors) {
    const std::string subject = "detector " + old_d.name;
    const auto it = new_by_name.find(old_d.name);
    if (it == new_by_name.end()) {
      out.push_back({Kind::Widened, subject, "removed: what it found now passes"});
      continue;
    }
    const Detector& new_d = *it->second;
    if (pattern(old_d.pattern) != pattern(new_d.pattern)) {
      if (!new_d.pattern) {
        out.push_back(
            {Kind::MayWiden, subject,
             "pattern " + quoted(pattern(old_d.pattern)) + " dropped: it now denies by key alone"});
      } else if (!old_d.pattern) {
        out.push_back({Kind::MayWiden, subject,
                       "now needs its pattern " + quoted(pattern(new_d.pattern)) +
                           " to match: it used to deny every value under its keys"});
      } else if (auto example = detectorWitness(old_d, new_d)) {
        out.push_back({Kind::Widened, subject,
                       "pattern changed from " + quoted(pattern(old_d.pattern)) + " to " +
                           quoted(pattern(new_d.pattern)) + ", e.g. " + quoted(*example) +
                           " is no longer found"});
      } else {
        out.push_back({Kind::MayWiden, subject,
                       "pattern changed from " + quoted(pattern(old_d.pattern)) + " to " +
                           quoted(pattern(new_d.pattern)) +
                           "; no sampled match of the old one escapes the new one"});
      }
    }
    if (pattern(old_d.keys) != pattern(new_d.keys)) {
      if (!old_d.keys) {
        out.push_back({Kind::Widened, subject,
                       "now applies only under keys matching " + quoted(pattern(new_d.keys))});
      } else if (!new_d.keys) {
        out.push_back({Kind::Narrowed, subject, "now applies under every key"});
      } else {
        out.push_back({Kind::MayWiden, subject,
                       "keys changed from " + quoted(pattern(old_d.keys)) + " to " +
                           quoted(pattern(new_d.keys))});
      }
    }
    if (old_d.check != new_d.check) {
      if (new_d.check == rules::Validator::None) {
        out.push_back({Kind::Narrowed, subject, "validator dropped: every match counts"});
      } else {
        out.push_back(
            {Kind::Widened, subject, "validator added or changed: matches it rejects now pass"});
      }
    }
    if (strength(new_d.action) < strength(old_d.action)) {
      out.push_back({Kind::Widened, subject,
                     "action " + std::string(rules::actionName(old_d.action)) + " -> " +
                         std::string(rules::actionName(new_d.action)) +
                         (new_d.action == Action::Hash ? ": a linkable pseudonym now leaves"
                                                       : ": the rest of the text now leaves")});
    } else if (strength(new_d.action) > strength(old_d.action)) {
      out.push_back({Kind::Narrowed, subject,
                     "action " + std::string(rules::actionName(old_d.action)) + " -> " +
                         std::string(rules::actionName(new_d.action))});
    }
  }
  for (const auto& new_d : n.detectors) {
    if (old_by_name.count(new_d.name) == 0) {
      out.push_back({Kind::Narrowed, "detector " + new_d.name, "added"});
    }
  }
}

void diffSettings(const RuleSet& o, const RuleSet& n, std::vector<DiffFinding>& out) {
  if (o.policy != n.policy) {
    const bool wider = n.policy == rules::Policy::Redact;
    out.push_back({wider ? Kind::Widened : Kind::Narrowed, "policy",
                   std::string(rules::policyName(o.policy)) + " -> " +
                       std::string(rules::policyName(n.policy)) +
                       (wider ? ": every field no detector catches now passes"
                              : ": only what keep rules name passes")});
  }
  if (n.policy == rules::Policy::Allowlist &&
      pattern(o.wildcard_keys) != pattern(n.wildcard_keys)) {
    // Keys only a wildcard lets through must fully match wildcard_keys: a wider pattern lets
    // keys that carry data (an e-mail address as a key) out.
    std::optional<std::string> example;
    if (n.wildcard_keys) {
      if (auto samples = rules::sampleRegex(n.wildcard_keys->pattern(), kSamples, 13)) {
        for (const auto& sample : *samples) {
          if (RE2::FullMatch(sample, *n.wildcard_keys) &&
              (o.wildcard_keys && !RE2::FullMatch(sample, *o.wildcard_keys))) {
            example = sample;
            break;
          }
        }
      }
    }
    if (!n.wildcard_keys || example) {
      out.push_back({Kind::Widened, "setting wildcard_keys",
                     quoted(pattern(o.wildcard_keys)) + " -> " + quoted(pattern(n.wildcard_keys)) +
                         (example ? ": keys such as " + quoted(*example) +
                                        " now pass where only * or ** names them"
                                  : ": every key now passes where only * or ** names it")});
    } else {
      out.push_back({Kind::MayWiden, "setting wildcard_keys",
                     quoted(pattern(o.wildcard_keys)) + " -> " + quoted(pattern(n.wildcard_keys)) +
                         "; no sampled key shows it wider"});
    }
  }
  if (o.drop_empty != n.drop_empty) {
    out.push_back({Kind::Changed, "setting drop_empty",
                   std::string(n.drop_empty ? "true" : "false") +
                       (n.drop_empty ? ": lines with nothing but the envelope are dropped"
                                     : ": lines with nothing but the envelope now leave")});
  }
  if (o.envelope != n.envelope) {
    out.push_back({Kind::Changed, "setting envelope",
                   "changed: which lines count as empty (their fields are decided as before)"});
  }
  if (o.mask_format != n.mask_format) {
    out.push_back(
        {Kind::Changed, "setting mask", quoted(o.mask_format) + " -> " + quoted(n.mask_format)});
  }
  const std::string old_key = o.hash_key ? o.hash_key->id : "";
  const std::string new_key = n.hash_key ? n.hash_key->id : "";
  if (old_key != new_key) {
    out.push_back({Kind::Changed, "setting hash_key",
                   "key id " + quoted(old_key) + " -> " + quoted(new_key) +
                       ": pseudonyms change, lines before and after do not link"});
  }
}

} // namespace

const char* kindName(DiffFinding::Kind kind) {
  switch (kind) {
  case Kind::Widened:
    return "widened";
  case Kind::MayWiden:
    return "may widen";
  case Kind::Narrowed:
    return "narrowed";
  case Kind::Changed:
    return "changed";
  }
  return "?";
}

std::vector<DiffFinding> diffRuleSets(const RuleSet& old_rules, const RuleSet& new_rules) {
  std::vector<DiffFinding> out;
  diffSettings(old_rules, new_rules, out);
  diffKeep(old_rules, new_rules, out);
  diffDetectors(old_rules, new_rules, out);
  // Default action changes show up per detector (each carries its effective action).
  return out;
}

} // namespace scrub::verify
