#pragma once

// A compiled, linted, immutable rule set: what the filter engine consults for every field.
// Built once by the loader (rule_loader.h), shared between worker threads as
// `std::shared_ptr<const RuleSet>` and swapped whole on reload, never modified in place.

#include <re2/re2.h>
#include <re2/set.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rules/fast_contract.h"
#include "rules/path_automaton.h"
#include "rules/path_pattern.h"
#include "rules/result.h"
#include "rules/validators.h"

namespace scrub::rules {

enum class Policy : uint8_t {
  Allowlist, // only what a keep rule names passes
  Redact,    // everything passes but what a deny detector catches
};

enum class Action : uint8_t {
  Remove, // the field goes
  Mask,   // the matched text becomes the mask, by default "[REDACTED:<rule>]"
  Hash,   // the matched text becomes a keyed HMAC-SHA256 pseudonym
};

std::string_view policyName(Policy policy);
std::string_view actionName(Action action);

struct KeepRule {
  std::string name; // "keep:<path>", for counters and explain
  PathPattern path;
  std::unique_ptr<const RE2> value; // full match on the value's text; null: any value
  std::optional<FastContract> fast; // the same contract without RE2, when it is simple
  bool has_range = false;
  std::string range_min;
  std::string range_max;

  bool contractHolds(std::string_view text) const {
    if (!value) {
      return true;
    }
    if (fast) {
      return fast->matches(text);
    }
    // Every text the contract matches lies in [range_min, range_max] (RE2's
    // PossibleMatchRange): most texts that break a template fail here without running RE2.
    if (has_range && (text < range_min || text > range_max)) {
      return false;
    }
    return value->Match(re2::StringPiece(text.data(), text.size()), 0, text.size(),
                        RE2::ANCHOR_BOTH, nullptr, 0);
  }
  SourcePos pos;
};

struct Detector {
  std::string name;
  std::unique_ptr<const RE2> pattern; // searched in values (and keys); null: key-only detector
  std::unique_ptr<const RE2> keys;    // the keys it applies to; null: every key
  Validator check = Validator::None;
  Action action = Action::Remove;
  SourcePos pos;

  // A detector with `keys` and no `pattern` denies a field by its key alone.
  bool keyOnly() const { return pattern == nullptr; }
};

// The secret behind `action: hash`. Only ever read from the environment or a file.
struct HashKey {
  std::string id;     // goes into every pseudonym, so a key rotation is visible
  std::string secret; // never logged
};

struct RuleSource {
  std::string file;   // path, or "builtin:<name>"
  std::string sha256; // hex of the file's bytes
};

class RuleSet {
public:
  std::string name;
  Policy policy = Policy::Allowlist;
  Action default_action = Action::Remove;
  std::vector<KeepRule> keep;
  std::vector<Detector> detectors;
  std::string mask_format = "[REDACTED:{rule}]";
  std::optional<HashKey> hash_key;
  bool drop_empty = true;
  std::vector<std::string> envelope; // top-level keys that alone do not make a line worth sending
  // Allowlist: a key that only a `*` or `**` segment lets through is written only when it fully
  // matches this (a map keyed by names or e-mail addresses on the way to a kept id must not
  // leave). Default kDefaultWildcardKeys.
  std::unique_ptr<const RE2> wildcard_keys;
  std::vector<RuleSource> sources;
  uint64_t id = 0; // unique per finalize(): lets per-thread caches tell rule sets apart

  // --- derived by finalize(): the fast paths the filter uses -----------------------------------
  PathAutomaton paths;                    // every keep path, as one DFA
  std::unique_ptr<RE2::Set> value_set;    // every detector pattern, one pass per value
  std::vector<int> value_set_detector;    // value_set index -> detectors index
  std::unique_ptr<RE2::Set> key_only_set; // keys of key-only detectors, one pass per key
  std::vector<int> key_only_set_detector;
  std::vector<std::string> masks; // detectors index -> its mask text
  // Per automaton state, what the top-level keys the rules name that lead to it from the start
  // are: all envelope, all content, or unknown (none leads there, or both kinds do).
  enum TopKeyKind : uint8_t { kTopUnknown = 0, kTopEnvelope = 1, kTopContent = 2, kTopMixed = 3 };
  std::vector<uint8_t> top_key_kind;
  bool envelope_key(std::string_view key) const;
  // envelope_key for a top-level key written under `child` = paths.stepKey(paths.start(), key,
  // by_wildcard): one table load for keys the rules name, the list otherwise. Runs for every
  // written top-level field.
  bool topLevelEnvelope(std::string_view key, PathAutomaton::StateId child,
                        bool by_wildcard) const {
    if (!by_wildcard && child < top_key_kind.size()) {
      const uint8_t kind = top_key_kind[child];
      if (kind == kTopEnvelope || kind == kTopContent) {
        return kind == kTopEnvelope;
      }
    }
    return envelope_key(key);
  }

  // Whether a key that only a wildcard lets through may be written (wildcard_keys).
  bool wildcardKeyAllowed(std::string_view key) const {
    return !wildcard_keys || wildcard_keys->Match(re2::StringPiece(key.data(), key.size()), 0,
                                                  key.size(), RE2::ANCHOR_BOTH, nullptr, 0);
  }

  // The first keep rule accepting this automaton state whose value contract `text` meets, or -1.
  int firstKeepRuleFor(const PathAutomaton::StateInfo& info, std::string_view text) const {
    for (uint32_t rule : info.accepted) {
      if (keep[rule].contractHolds(text)) {
        return static_cast<int>(rule);
      }
    }
    return -1;
  }

  // Builds the derived members; fails when RE2 cannot compile a set (out of memory budget).
  Status finalize();

  // The mask text for one detector: mask_format with {rule} replaced.
  std::string maskFor(const Detector& detector) const;

  // Combined identity of the loaded files, for metrics, /rules and verify reports.
  std::string fingerprint() const;
};

using RuleSetPtr = std::shared_ptr<const RuleSet>;

// Identifier-like keys: letters, digits, '_' and '$', joined by '/', ':' or '-' (Kobo's
// `group/field`). Not '.', '@', spaces, non-ASCII or a leading digit: e-mail addresses, names
// and phone numbers used as keys fail it.
inline constexpr const char* kDefaultWildcardKeys =
    "[A-Za-z_$][A-Za-z0-9_$]{0,63}([/:-][A-Za-z0-9_$]{1,64}){0,8}";

// Memory budget for each compiled pattern: a pathological pattern is refused at load time rather
// than degrading at run time.
inline constexpr int64_t kRegexMaxMem = 8 << 20;

} // namespace scrub::rules
