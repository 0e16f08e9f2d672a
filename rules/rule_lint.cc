#include "rules/rule_lint.h"

#include "rules/detector_match.h"
#include "rules/regex_sampler.h"

namespace scrub::rules {
namespace {

constexpr size_t kSamples = 400;

bool detectorHits(const Detector& detector, std::string_view text) {
  std::vector<MatchSpan> spans;
  return findDetectorSpans(detector, 0, text, spans);
}

// Validated detectors (luhn, jmbg) almost never accept random digits; try every last digit so
// that a sample which has the right shape gets a chance to carry a valid checksum too.
std::vector<std::string> withCheckDigits(const std::vector<std::string>& samples) {
  std::vector<std::string> out;
  for (const auto& sample : samples) {
    out.push_back(sample);
    const size_t last = sample.find_last_of("0123456789");
    if (last == std::string::npos) {
      continue;
    }
    for (char d = '0'; d <= '9'; ++d) {
      std::string variant = sample;
      variant[last] = d;
      out.push_back(std::move(variant));
    }
  }
  return out;
}

// The literal key a keep rule ends in, if any: detectors restricted by `keys` apply there.
const std::string* lastLiteralKey(const KeepRule& rule) {
  for (auto it = rule.path.segments.rbegin(); it != rule.path.segments.rend(); ++it) {
    if (it->kind == PathSegment::Kind::Key) {
      return &it->key;
    }
    if (it->kind != PathSegment::Kind::AnyIndex) {
      return nullptr;
    }
  }
  return nullptr;
}

void lintContractsAgainstDetectors(const RuleSet& rules, std::vector<LintFinding>& findings) {
  if (rules.policy != Policy::Allowlist) {
    return; // in redact mode a kept field is exempt from detectors: nothing can eat it
  }
  for (const auto& keep : rules.keep) {
    if (!keep.value) {
      continue;
    }
    const std::string* key = lastLiteralKey(keep);
    const auto contract_samples = sampleRegex(keep.value->pattern(), kSamples, 1);
    for (const auto& detector : rules.detectors) {
      if (!detector.pattern) {
        continue;
      }
      if (detector.keys && key != nullptr && !RE2::PartialMatch(*key, *detector.keys)) {
        continue;
      }
      std::string example;
      if (contract_samples) {
        for (const auto& sample : *contract_samples) {
          if (RE2::FullMatch(sample, *keep.value) && detectorHits(detector, sample)) {
            example = sample;
            break;
          }
        }
      }
      if (example.empty()) {
        if (auto detector_samples = sampleRegex(detector.pattern->pattern(), kSamples, 2)) {
          for (const auto& sample : withCheckDigits(*detector_samples)) {
            if (RE2::FullMatch(sample, *keep.value) && detectorHits(detector, sample)) {
              example = sample;
              break;
            }
          }
        }
      }
      if (!example.empty()) {
        findings.push_back(
            {detector.pos, "deny '" + detector.name + "' can match values that " + keep.name +
                               " (" + keep.pos.str() + ") allows, e.g. '" + example +
                               "': it would remove them; narrow the detector or the contract"});
      }
    }
  }
}

// True when `outer` keeps everything `inner` could keep.
bool keepCovers(const KeepRule& outer, const KeepRule& inner) {
  if (!outer.value) {
    return pathCovers(outer.path, inner.path, true);
  }
  return inner.value && outer.value->pattern() == inner.value->pattern() &&
         pathCovers(outer.path, inner.path, false);
}

void lintShadowedKeeps(const RuleSet& rules, std::vector<LintFinding>& findings) {
  for (size_t b = 0; b < rules.keep.size(); ++b) {
    const KeepRule& inner = rules.keep[b];
    for (size_t a = 0; a < rules.keep.size(); ++a) {
      const KeepRule& outer = rules.keep[a];
      if (a == b || !keepCovers(outer, inner)) {
        continue;
      }
      if (a > b && keepCovers(inner, outer)) {
        continue; // two rules with the same effect: the later one is reported, not both
      }
      findings.push_back({inner.pos, inner.name + " is shadowed by " + outer.name + " (" +
                                         outer.pos.str() + "), which already keeps " +
                                         (outer.value ? "the same values" : "everything") +
                                         " there"});
      break;
    }
  }
}

void lintUnreachableKeeps(const RuleSet& rules, std::vector<LintFinding>& findings) {
  for (const auto& keep : rules.keep) {
    const auto& segments = keep.path.segments;
    for (size_t i = 0; i < segments.size(); ++i) {
      if (segments[i].kind != PathSegment::Kind::Key) {
        continue;
      }
      // In redact mode a kept field is exempt itself, but a denied ancestor still removes it.
      const bool is_last = i + 1 == segments.size();
      if (rules.policy == Policy::Redact && is_last) {
        continue;
      }
      for (const auto& detector : rules.detectors) {
        if (detector.keyOnly() && RE2::PartialMatch(segments[i].key, *detector.keys)) {
          findings.push_back({keep.pos, keep.name + " can never keep anything: deny '" +
                                            detector.name + "' (" + detector.pos.str() +
                                            ") removes key '" + segments[i].key + "' on its path"});
          i = segments.size();
          break;
        }
      }
    }
  }
}

} // namespace

std::vector<LintFinding> lintRuleSet(const RuleSet& rules) {
  std::vector<LintFinding> findings;
  lintContractsAgainstDetectors(rules, findings);
  lintShadowedKeeps(rules, findings);
  lintUnreachableKeeps(rules, findings);
  return findings;
}

} // namespace scrub::rules
