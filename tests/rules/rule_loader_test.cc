#include "rules/rule_loader.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "rule_test_support.h"
#include "rules/builtin_packs.h"
#include "rules/digest.h"

namespace scrub::rules {
namespace {

using testing::loadError;
using testing::loadOk;
using testing::TempDir;

LoadOptions envWith(std::string name, std::string value) {
  LoadOptions options;
  options.get_env = [name = std::move(name), value = std::move(value)](const char* asked) {
    return name == asked ? value.c_str() : nullptr;
  };
  return options;
}

LoadOptions noEnv() {
  LoadOptions options;
  options.get_env = [](const char*) -> const char* { return nullptr; };
  return options;
}

const Detector* detectorNamed(const RuleSet& rules, std::string_view name) {
  for (const auto& d : rules.detectors) {
    if (d.name == name) {
      return &d;
    }
  }
  return nullptr;
}

bool isLowerHex(const std::string& text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

constexpr const char* kKey40 = "0123456789abcdef0123456789abcdef01234567";

// --- errors: every one is `file:line:col: message` -----------------------------------------------

TEST_CASE("loader: unknown keys are errors with a position and a hint", "[rules][loader]") {
  CHECK(loadError(R"(version: 1
polcy: allowlist
)") == "r.yaml:2:1: unknown key 'polcy' (did you mean 'policy'?)");

  CHECK(loadError(R"(version: 1
colour: red
)") == "r.yaml:2:1: unknown key 'colour'");

  CHECK(loadError(R"(version: 1
policy: allowlist
keep:
  - path: _id
    vaule: '[0-9]+'
)") == "r.yaml:5:5: keep: unknown key 'vaule' (did you mean 'value'?)");

  CHECK(loadError(R"(version: 1
deny:
  - name: email
    patern: '@'
)") == "r.yaml:4:5: deny: unknown key 'patern' (did you mean 'pattern'?)");
}

TEST_CASE("loader: version is required and must be 1", "[rules][loader]") {
  CHECK(loadError(R"(name: x
policy: redact
)") == "r.yaml:1:1: missing `version: 1`");
  CHECK(loadError(R"(version: 2
)") == "r.yaml:1:10: version: only version 1 is understood");
  CHECK(loadError(R"(name: x
version: "1.0"
)") == "r.yaml:2:10: version: only version 1 is understood");
}

TEST_CASE("loader: policy and action values are checked", "[rules][loader]") {
  CHECK(loadError(R"(version: 1
policy: blocklist
)") == "r.yaml:2:9: policy: expected allowlist or redact, got 'blocklist'");
  CHECK(loadError(R"(version: 1
action: delete
)") == "r.yaml:2:9: action: expected remove, mask or hash, got 'delete'");
  CHECK(loadError(R"(version: 1
deny:
  - name: d
    pattern: x
    action: drop
)") == "r.yaml:5:13: deny 'd': action: expected remove, mask or hash, got 'drop'");
  CHECK(loadError(R"(version: 1
drop_empty: yes
)") == "r.yaml:2:13: drop_empty: expected true or false, got 'yes'");
}

TEST_CASE("loader: invalid RE2 is reported at the pattern's scalar", "[rules][loader]") {
  const std::string value = loadError(R"(version: 1
keep:
  - path: _id
    value: '[0-9'
)");
  CHECK_THAT(value, Catch::StartsWith("r.yaml:4:12: keep '_id': value: invalid RE2 pattern: ") &&
                        Catch::Contains("missing ]"));

  const std::string pattern = loadError(R"(version: 1
deny:
  - name: d
    pattern: '(a'
)");
  CHECK_THAT(pattern, Catch::StartsWith("r.yaml:4:14: deny 'd': pattern: invalid RE2 pattern: ") &&
                          Catch::Contains("missing )"));

  const std::string keys = loadError(R"(version: 1
deny:
  - name: d
    keys: '*x'
)");
  CHECK_THAT(keys, Catch::StartsWith("r.yaml:4:11: deny 'd': keys: invalid RE2 pattern: ") &&
                       Catch::Contains("repetition"));

  CHECK(loadError(R"(version: 1
deny:
  - name: d
    pattern: ''
)") == "r.yaml:4:14: deny 'd': pattern: empty pattern");
}

TEST_CASE("loader: a bad path names the path and the character", "[rules][loader]") {
  CHECK(loadError(R"(version: 1
keep:
  - path: 'a..b'
)") == "r.yaml:3:11: keep: path 'a..b': empty segment at character 3");
  CHECK(loadError(R"(version: 1
keep:
  - _id
  - '**'
)") == "r.yaml:4:5: keep: path '**': a trailing `**` would keep everything; name what to keep");
  CHECK(loadError(R"(version: 1
keep:
  - value: '[0-9]+'
)") == "r.yaml:3:5: keep: missing 'path'");
}

TEST_CASE("loader: detector names are unique and metric-safe", "[rules][loader]") {
  CHECK(loadError(R"(version: 1
deny:
  - name: email
    pattern: '@'
  - name: email
    pattern: 'x'
)") == "r.yaml:5:11: deny: a second detector named 'email' (first at r.yaml:3:11)");

  CHECK(loadError(R"(version: 1
deny:
  - name: my email
    pattern: '@'
)") == "r.yaml:3:11: deny: name 'my email' may hold only letters, digits, '_' and '-' (it "
       "becomes a metric label)");

  CHECK(loadError(R"(version: 1
deny:
  - pattern: '@'
)") == "r.yaml:3:5: deny: missing 'name'");
}

TEST_CASE("loader: detector checks and shapes", "[rules][loader]") {
  CHECK(loadError(R"(version: 1
deny:
  - name: d
    keys: 'card'
    check: luhn
)") == "r.yaml:5:12: deny 'd': check needs a 'pattern' whose matches it validates");

  CHECK(loadError(R"(version: 1
deny:
  - name: d
    pattern: '[0-9]+'
    check: crc
)") == "r.yaml:5:12: deny 'd': check: unknown validator 'crc' (known: luhn, jmbg, iban)");

  CHECK(loadError(R"(version: 1
deny:
  - name: d
    action: mask
)") == "r.yaml:3:5: deny 'd': needs 'pattern', 'keys' or both");
}

TEST_CASE("loader: hash action needs a hash key", "[rules][loader]") {
  CHECK(loadError(R"(version: 1
policy: redact
action: hash
deny:
  - name: d
    pattern: x
)") == "r.yaml:3:9: action: hash needs a hash_key (from env or file)");

  CHECK(loadError(R"(version: 1
policy: redact
deny:
  - name: d
    pattern: x
    action: hash
)") == "r.yaml:6:13: deny 'd': action: hash needs a hash_key (from env or file)");
}

TEST_CASE("loader: hash keys come from env or file, never inline", "[rules][loader]") {
  CHECK(loadError(R"(version: 1
hash_key: {id: k1, secret: x}
)") == "r.yaml:2:20: hash_key: unknown key 'secret'");

  CHECK(loadError(R"(version: 1
hash_key:
  id: k1
)",
                  noEnv()) ==
        "r.yaml:3:3: hash_key: the key comes from 'env' or 'file', never inline");

  CHECK(loadError(R"(version: 1
hash_key:
  env: SCRUB_TEST_KEY
)",
                  noEnv()) == "r.yaml:3:3: hash_key: missing 'id' (it goes into every pseudonym)");

  CHECK(loadError(R"(version: 1
hash_key:
  id: k1
  env: SCRUB_TEST_KEY
)",
                  noEnv()) ==
        "r.yaml:4:8: hash_key: environment variable 'SCRUB_TEST_KEY' is not set");

  CHECK(loadError(R"(version: 1
hash_key:
  id: k1
  env: SCRUB_TEST_KEY
)",
                  envWith("SCRUB_TEST_KEY", "")) ==
        "r.yaml:4:8: hash_key: environment variable 'SCRUB_TEST_KEY' is not set");

  CHECK(loadError(R"(version: 1
hash_key:
  id: k1
  env: SCRUB_TEST_KEY
)",
                  envWith("SCRUB_TEST_KEY", std::string(31, 'k'))) ==
        "r.yaml:3:3: hash_key: the key must be at least 32 bytes (a short key makes pseudonyms "
        "guessable)");

  CHECK(loadError(R"(version: 1
hash_key:
  id: k1
  env: SCRUB_TEST_KEY
  file: /nonexistent/key
)",
                  envWith("SCRUB_TEST_KEY", kKey40)) ==
        "r.yaml:3:3: hash_key: give either 'env' or 'file', not both");

  CHECK(loadError(R"(version: 1
hash_key:
  id: k1
  file: /nonexistent/scrub/key
)") == "r.yaml:4:9: hash_key: cannot read key file '/nonexistent/scrub/key'");
}

TEST_CASE("loader: YAML syntax errors carry yaml-cpp's position", "[rules][loader]") {
  // yaml-cpp 0.7 (Debian 12) reports where it noticed the problem.
  CHECK(loadError(R"(version: 1
name: x: y
)") == "r.yaml:2:8: YAML: illegal map value");

  CHECK(loadError(R"(version: 1
keep: [a, b
)") == "r.yaml:3:1: YAML: end of sequence flow not found");

  CHECK(loadError("version: 1\nkeep:\n  - path: a\n   bad: indent\n") ==
        "r.yaml:4:4: YAML: end of sequence not found");
}

TEST_CASE("loader: a repeated key is an error, not silently ignored", "[rules][loader]") {
  // yaml-cpp accepts repeated keys and lookups see only the first one, so without this check
  // the second `deny:` list and the second `policy:` would be dropped without a word.
  CHECK(loadError(R"(version: 1
policy: redact
deny:
  - name: a
    pattern: a
deny:
  - name: email
    pattern: '@'
)") == "r.yaml:6:1: duplicate key 'deny' (first at r.yaml:3:1)");

  CHECK(loadError(R"(version: 1
policy: redact
policy: allowlist
)") == "r.yaml:3:1: duplicate key 'policy' (first at r.yaml:2:1)");

  CHECK(loadError(R"(version: 1
keep:
  - path: _id
    value: '[0-9]+'
    value: '.*'
)") == "r.yaml:5:5: keep: duplicate key 'value' (first at r.yaml:4:5)");

  CHECK(loadError(R"(version: 1
deny:
  - name: d
    pattern: x
    name: e
)") == "r.yaml:5:5: deny: duplicate key 'name' (first at r.yaml:3:5)");

  CHECK(loadError(R"(version: 1
hash_key: {id: a, id: b, env: K}
)") == "r.yaml:2:19: hash_key: duplicate key 'id' (first at r.yaml:2:12)");
}

TEST_CASE("loader: a rules file is a mapping", "[rules][loader]") {
  CHECK(loadError("- a\n- b\n") == "r.yaml:1:1: a rules file is a mapping with `version: 1`");
  CHECK(loadError("just text\n") == "r.yaml:1:1: a rules file is a mapping with `version: 1`");
  CHECK(loadError("") == "r.yaml:1:1: a rules file is a mapping with `version: 1`");
  CHECK(loadError(R"(version: 1
keep: _id
)") == "r.yaml:2:7: keep: expected a list of rules");
  CHECK(loadError(R"(version: 1
deny: {name: x}
)") == "r.yaml:2:7: deny: expected a list of detectors");
}

TEST_CASE("loader: include of a missing file", "[rules][loader]") {
  CHECK_THAT(loadError(R"(version: 1
include: [does-not-exist.yaml]
)"),
             Catch::StartsWith("r.yaml:2:11: include 'does-not-exist.yaml': no rules file "
                               "'does-not-exist.yaml' and no shipped pack of that name (packs: ") &&
                 Catch::Contains("pii-detectors"));

  CHECK_THAT(loadError(R"(version: 1
include: no-such-pack
)"),
             Catch::StartsWith("r.yaml:2:10: include 'no-such-pack': no rules file"));

  CHECK_THAT(loadError(R"(version: 1
include: [builtin:nope]
)"),
             Catch::StartsWith("r.yaml:2:11: include 'builtin:nope': no rules file"));

  const auto missing = loadRules({"/nonexistent/scrub/rules.yaml"});
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message,
             Catch::StartsWith("/nonexistent/scrub/rules.yaml: no rules file"));
}

TEST_CASE("loader: an include cycle is an error at the include", "[rules][loader]") {
  TempDir dir;
  const std::string a = dir.write("a.yaml", R"(version: 1
include: [b.yaml]
)");
  const std::string b = dir.write("b.yaml", R"(version: 1
name: b
include:
  - a.yaml
)");
  const auto loaded = loadRules({a});
  REQUIRE_FALSE(loaded.ok());
  const std::string& message = loaded.error().message;
  CHECK_THAT(message,
             Catch::StartsWith(b + ":4:5: include 'a.yaml': ") && Catch::Contains("include cycle"));

  const std::string self = dir.write("self.yaml", R"(version: 1
include: [self.yaml]
)");
  const auto looped = loadRules({self});
  REQUIRE_FALSE(looped.ok());
  CHECK_THAT(looped.error().message, Catch::StartsWith(self + ":2:11: include 'self.yaml': ") &&
                                         Catch::Contains("include cycle"));
}

TEST_CASE("loader: settings from an included file must not contradict", "[rules][loader]") {
  TempDir dir;
  const std::string inc = dir.write("inc.yaml", R"(version: 1
policy: redact
action: mask
)");
  const std::string root = (dir.path() / "root.yaml").string();
  CHECK(loadError(R"(version: 1
include: [inc.yaml]
policy: allowlist
)",
                  {}, root) ==
        root + ":3:9: policy: 'allowlist' contradicts 'redact' set at " + inc + ":2:9");

  // Saying the same thing twice is fine.
  const auto same = loadOk(R"(version: 1
include: [inc.yaml]
policy: redact
)",
                           {}, root);
  CHECK(same.rules->policy == Policy::Redact);
  CHECK(same.rules->default_action == Action::Mask);

  // Two root specs are held to the same rule.
  const std::string other = dir.write("other.yaml", R"(version: 1
action: remove
)");
  const auto both = loadRules({inc, other});
  REQUIRE_FALSE(both.ok());
  CHECK(both.error().message ==
        other + ":2:9: action: 'remove' contradicts 'mask' set at " + inc + ":3:9");
}

// --- what loads -------------------------------------------------------------------------------

TEST_CASE("loader: keep entries, full and shorthand", "[rules][loader]") {
  const auto loaded = loadOk(R"(version: 1
name: ids
keep:
  - time
  - path: '**._id'
    value: '[1-9][0-9]{0,18}'
    description: retry ids
  - path: 'child/full_name'
)");
  const RuleSet& rules = *loaded.rules;
  CHECK(rules.name == "ids");
  REQUIRE(rules.keep.size() == 3);

  CHECK(rules.keep[0].name == "keep:time");
  CHECK(rules.keep[0].path.text == "time");
  CHECK(rules.keep[0].value == nullptr);
  CHECK(rules.keep[0].pos.str() == "r.yaml:4:5");

  CHECK(rules.keep[1].name == "keep:**._id");
  REQUIRE(rules.keep[1].value != nullptr);
  CHECK(rules.keep[1].value->pattern() == "[1-9][0-9]{0,18}");
  CHECK(rules.keep[1].pos.str() == "r.yaml:5:11");

  REQUIRE(rules.keep[2].path.segments.size() == 1);
  CHECK(rules.keep[2].path.segments[0].key == "child/full_name");
  CHECK(rules.keep[2].value == nullptr);
}

TEST_CASE("loader: defaults", "[rules][loader]") {
  const auto loaded = loadOk("version: 1\n");
  const RuleSet& rules = *loaded.rules;
  CHECK(rules.name == "rules");
  CHECK(rules.policy == Policy::Allowlist);
  CHECK(rules.default_action == Action::Remove);
  CHECK(rules.drop_empty);
  CHECK(rules.envelope.empty());
  CHECK(rules.mask_format == "[REDACTED:{rule}]");
  CHECK_FALSE(rules.hash_key.has_value());
  CHECK(rules.keep.empty());
  CHECK(rules.detectors.empty());
  CHECK(loaded.warnings.empty());
}

TEST_CASE("loader: the default action follows the policy", "[rules][loader]") {
  const char* kDetectors = R"(
deny:
  - name: email
    pattern: '@'
  - name: phone
    pattern: '\+387'
    action: hash
  - name: secret
    keys: 'password'
    action: remove
hash_key:
  id: k1
  env: SCRUB_TEST_KEY
)";
  const LoadOptions options = envWith("SCRUB_TEST_KEY", kKey40);

  const auto allow = loadOk(std::string("version: 1\npolicy: allowlist\n") + kDetectors, options);
  CHECK(allow.rules->default_action == Action::Remove);
  CHECK(detectorNamed(*allow.rules, "email")->action == Action::Remove);
  CHECK(detectorNamed(*allow.rules, "phone")->action == Action::Hash);
  CHECK(detectorNamed(*allow.rules, "secret")->action == Action::Remove);

  const auto redact = loadOk(std::string("version: 1\npolicy: redact\n") + kDetectors, options);
  CHECK(redact.rules->policy == Policy::Redact);
  CHECK(redact.rules->default_action == Action::Mask);
  CHECK(detectorNamed(*redact.rules, "email")->action == Action::Mask);
  CHECK(detectorNamed(*redact.rules, "phone")->action == Action::Hash);
  CHECK(detectorNamed(*redact.rules, "secret")->action == Action::Remove);

  const auto hashed =
      loadOk(std::string("version: 1\npolicy: redact\naction: hash\n") + kDetectors, options);
  CHECK(hashed.rules->default_action == Action::Hash);
  CHECK(detectorNamed(*hashed.rules, "email")->action == Action::Hash);
  CHECK(detectorNamed(*hashed.rules, "secret")->action == Action::Remove);
}

TEST_CASE("loader: detector fields", "[rules][loader]") {
  const auto loaded = loadOk(R"(version: 1
deny:
  - name: jmbg
    pattern: '\b[0-9]{13}\b'
    check: jmbg
    description: personal number
  - name: names
    keys: '(?i)name'
  - name: dob
    keys: 'birth'
    pattern: '[0-9]{4}-[0-9]{2}-[0-9]{2}'
)");
  const RuleSet& rules = *loaded.rules;
  REQUIRE(rules.detectors.size() == 3);
  const Detector& jmbg = rules.detectors[0];
  CHECK(jmbg.name == "jmbg");
  CHECK(jmbg.check == Validator::Jmbg);
  REQUIRE(jmbg.pattern != nullptr);
  CHECK(jmbg.pattern->pattern() == R"(\b[0-9]{13}\b)");
  CHECK(jmbg.keys == nullptr);
  CHECK_FALSE(jmbg.keyOnly());
  CHECK(jmbg.pos.str() == "r.yaml:3:11");

  const Detector& names = rules.detectors[1];
  CHECK(names.keyOnly());
  CHECK(names.check == Validator::None);
  REQUIRE(names.keys != nullptr);
  CHECK(names.keys->pattern() == "(?i)name");

  const Detector& dob = rules.detectors[2];
  CHECK_FALSE(dob.keyOnly());
  CHECK(dob.keys != nullptr);

  // finalize() sorted them into the value pass and the key-only pass.
  CHECK(rules.value_set != nullptr);
  CHECK(rules.value_set_detector == std::vector<int>{0, 2});
  CHECK(rules.key_only_set != nullptr);
  CHECK(rules.key_only_set_detector == std::vector<int>{1});
}

TEST_CASE("rule set: topLevelEnvelope answers as envelope_key for every top-level key",
          "[rules][loader]") {
  // Envelope keys named by rules, named only below the top, not named at all (let through by a
  // wildcard), and content keys of each kind.
  const auto loaded = loadOk(R"(version: 1
envelope: [level, time, source, host]
keep:
  - path: level
  - path: time
    value: '[0-9]+'
  - path: message
  - path: 'payload.source'
  - path: '**._id'
  - path: '*.kept'
)");
  const RuleSet& rules = *loaded.rules;
  for (const std::string key : {"level", "time", "source", "host", "message", "payload", "_id",
                                "other", "", "levels", "tim"}) {
    bool by_wildcard = false;
    const auto child = rules.paths.stepKey(rules.paths.start(), key, by_wildcard);
    INFO(key);
    CHECK(rules.topLevelEnvelope(key, child, by_wildcard) == rules.envelope_key(key));
  }
}

TEST_CASE("loader: mask format, envelope and drop_empty", "[rules][loader]") {
  const auto loaded = loadOk(R"(version: 1
policy: redact
mask: '<{rule}:{rule}>'
drop_empty: false
envelope: [level, time]
deny:
  - name: email
    pattern: '@'
  - name: ip
    pattern: '[0-9]+\.[0-9]+'
)");
  const RuleSet& rules = *loaded.rules;
  CHECK(rules.mask_format == "<{rule}:{rule}>");
  CHECK(rules.masks == std::vector<std::string>{"<email:email>", "<ip:ip>"});
  CHECK(rules.maskFor(rules.detectors[0]) == "<email:email>");
  CHECK_FALSE(rules.drop_empty);
  CHECK(rules.envelope == std::vector<std::string>{"level", "time"});
  CHECK(rules.envelope_key("time"));
  CHECK_FALSE(rules.envelope_key("message"));

  const auto plain = loadOk(R"(version: 1
policy: redact
deny:
  - name: email
    pattern: '@'
)");
  CHECK(plain.rules->masks == std::vector<std::string>{"[REDACTED:email]"});
}

TEST_CASE("loader: hash key from the environment", "[rules][loader]") {
  const auto loaded = loadOk(R"(version: 1
policy: redact
action: hash
hash_key:
  id: k2024
  env: SCRUB_TEST_KEY
deny:
  - name: email
    pattern: '@'
)",
                             envWith("SCRUB_TEST_KEY", kKey40));
  REQUIRE(loaded.rules->hash_key.has_value());
  CHECK(loaded.rules->hash_key->id == "k2024");
  CHECK(loaded.rules->hash_key->secret == kKey40);
  CHECK(loaded.rules->detectors[0].action == Action::Hash);

  // Exactly 32 bytes is enough.
  const auto minimal = loadOk(R"(version: 1
hash_key: {id: k1, env: K}
)",
                              envWith("K", std::string(32, 'x')));
  CHECK(minimal.rules->hash_key->secret.size() == 32);
}

TEST_CASE("loader: hash key from a file, trailing newline dropped", "[rules][loader]") {
  TempDir dir;
  const std::string key_file = dir.write("hash.key", std::string(kKey40) + "\n");
  const auto loaded = loadOk("version: 1\nhash_key:\n  id: f1\n  file: " + key_file + "\n");
  REQUIRE(loaded.rules->hash_key.has_value());
  CHECK(loaded.rules->hash_key->id == "f1");
  CHECK(loaded.rules->hash_key->secret == kKey40);

  // A relative key file resolves beside the rules file.
  const std::string root = (dir.path() / "root.yaml").string();
  const auto relative = loadOk("version: 1\nhash_key:\n  id: f2\n  file: hash.key\n", {}, root);
  CHECK(relative.rules->hash_key->secret == kKey40);

  // The length is checked after the newline is dropped.
  const std::string short_file = dir.write("short.key", std::string(31, 'k') + "\n\n");
  CHECK_THAT(loadError("version: 1\nhash_key:\n  id: f3\n  file: " + short_file + "\n"),
             Catch::StartsWith("r.yaml:3:3: hash_key: the key must be at least 32 bytes"));
}

TEST_CASE("loader: include by built-in pack name", "[rules][loader]") {
  const auto pack = loadRules({"pii-detectors"});
  REQUIRE(pack.ok());
  const size_t pack_detectors = pack->rules->detectors.size();
  REQUIRE(pack_detectors > 5);

  const auto loaded = loadOk(R"(version: 1
name: mine
include: [pii-detectors]
policy: redact
deny:
  - name: local_id
    pattern: 'LID-[0-9]+'
)");
  const RuleSet& rules = *loaded.rules;
  CHECK(rules.name == "mine");
  CHECK(rules.detectors.size() == pack_detectors + 1);
  CHECK(detectorNamed(rules, "jmbg") != nullptr);
  CHECK(detectorNamed(rules, "iban")->check == Validator::Iban);
  CHECK(detectorNamed(rules, "local_id") != nullptr);
  // Included detectors take the including set's default action.
  CHECK(detectorNamed(rules, "email")->action == Action::Mask);
  REQUIRE(rules.sources.size() == 2);
  CHECK(rules.sources[0].file == "r.yaml");
  CHECK_THAT(rules.sources[1].file, Catch::StartsWith("builtin:pii-detectors"));

  // A scalar include and the explicit builtin: prefix work too.
  const auto scalar = loadOk("version: 1\ninclude: builtin:pii-detectors\n");
  CHECK(scalar.rules->detectors.size() == pack_detectors);

  // A detector of the same name as an included one is a duplicate.
  CHECK_THAT(loadError(R"(version: 1
include: [pii-detectors]
deny:
  - name: email
    pattern: '@'
)"),
             Catch::StartsWith("r.yaml:4:11: deny: a second detector named 'email' (first at "
                               "builtin:pii-detectors"));
}

TEST_CASE("loader: a diamond include loads the shared file once", "[rules][loader]") {
  TempDir dir;
  dir.write("shared.yaml", R"(version: 1
deny:
  - name: shared
    pattern: 'shared'
)");
  dir.write("left.yaml", R"(version: 1
include: [shared.yaml]
deny:
  - name: left
    pattern: 'left'
)");
  dir.write("right.yaml", R"(version: 1
include: [shared.yaml]
deny:
  - name: right
    pattern: 'right'
)");
  const std::string root = dir.write("root.yaml", R"(version: 1
name: diamond
include: [left.yaml, right.yaml]
)");
  const auto loaded = loadRules({root});
  INFO((loaded.ok() ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  const RuleSet& rules = *loaded->rules;
  CHECK(rules.name == "diamond");
  REQUIRE(rules.detectors.size() == 3);
  CHECK(rules.detectors[0].name == "shared");
  CHECK(rules.detectors[1].name == "left");
  CHECK(rules.detectors[2].name == "right");
  CHECK(rules.sources.size() == 4);
  // The shared detector's position names its own file.
  CHECK(rules.detectors[0].pos.str() == (dir.path() / "shared.yaml").string() + ":3:11");

  // Naming the same file twice at the root also loads it once.
  const auto twice = loadRules({root, (dir.path() / "left.yaml").string()});
  REQUIRE(twice.ok());
  CHECK(twice->rules->detectors.size() == 3);
}

TEST_CASE("loader: loadRules with no spec loads the default pack", "[rules][loader]") {
  const auto loaded = loadRules({});
  INFO((loaded.ok() ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  const RuleSet& rules = *loaded->rules;
  CHECK(rules.name == std::string(kDefaultPack));
  CHECK(rules.name == "openfn-retry-ids");
  CHECK(rules.policy == Policy::Allowlist);
  CHECK(rules.default_action == Action::Remove);
  CHECK(rules.detectors.empty());
  CHECK_FALSE(rules.keep.empty());
  CHECK(std::any_of(rules.keep.begin(), rules.keep.end(),
                    [](const KeepRule& k) { return k.path.text == "**._id"; }));
  CHECK(rules.envelope_key("level"));
  REQUIRE(rules.sources.size() == 1);
  CHECK_THAT(rules.sources[0].file, Catch::StartsWith("builtin:openfn-retry-ids"));
}

TEST_CASE("loader: builtin:kobo-redact brings its include along", "[rules][loader]") {
  const auto loaded = loadRules({"builtin:kobo-redact"});
  INFO((loaded.ok() ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  const RuleSet& rules = *loaded->rules;
  CHECK(rules.name == "kobo-redact");
  CHECK(rules.policy == Policy::Redact);
  CHECK(rules.default_action == Action::Mask);
  CHECK(detectorNamed(rules, "jmbg") != nullptr);
  REQUIRE(detectorNamed(rules, "kobo_personal_fields") != nullptr);
  CHECK(detectorNamed(rules, "kobo_personal_fields")->action == Action::Remove);
  CHECK(detectorNamed(rules, "email")->action == Action::Mask);
  CHECK(rules.sources.size() == 2);
}

TEST_CASE("loader: sources carry the sha256 of each file", "[rules][loader]") {
  CHECK(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  const std::string text = "version: 1\nname: digest\n";
  const auto loaded = loadOk(text);
  REQUIRE(loaded.rules->sources.size() == 1);
  const RuleSource& source = loaded.rules->sources[0];
  CHECK(source.file == "r.yaml");
  CHECK(source.sha256.size() == 64);
  CHECK(isLowerHex(source.sha256));
  CHECK(source.sha256 == sha256Hex(text));

  const auto kobo = loadRules({"kobo-redact"});
  REQUIRE(kobo.ok());
  for (const auto& s : kobo->rules->sources) {
    INFO(s.file);
    CHECK(s.sha256.size() == 64);
    CHECK(isLowerHex(s.sha256));
  }
  CHECK(kobo->rules->sources[0].sha256 != kobo->rules->sources[1].sha256);
}

TEST_CASE("loader: the fingerprint is stable and follows the content", "[rules][loader]") {
  const auto a = loadRules({"openfn-retry-ids"});
  const auto b = loadRules({"openfn-retry-ids"});
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->rules->fingerprint() == b->rules->fingerprint());
  CHECK(a->rules->fingerprint().size() == 16);
  CHECK(isLowerHex(a->rules->fingerprint()));

  const auto c = loadRules({"kobo-redact"});
  REQUIRE(c.ok());
  CHECK(c->rules->fingerprint() != a->rules->fingerprint());

  const auto x = loadOk("version: 1\nname: x\n");
  const auto y = loadOk("version: 1\nname: y\n");
  CHECK(x.rules->fingerprint() == loadOk("version: 1\nname: x\n").rules->fingerprint());
  CHECK(x.rules->fingerprint() != y.rules->fingerprint());
}

TEST_CASE("loader: the embedded packs are the files in rules/packs", "[rules][loader]") {
  REQUIRE(builtinPacks().size() >= 3);
  for (const char* name : {"openfn-retry-ids", "pii-detectors", "kobo-redact"}) {
    INFO(name);
    const BuiltinPack* pack = findBuiltinPack(name);
    REQUIRE(pack != nullptr);
    std::ifstream in(std::string(SCRUB_SOURCE_DIR) + "/rules/packs/" + name + ".yaml",
                     std::ios::binary);
    REQUIRE(in.good());
    std::stringstream file;
    file << in.rdbuf();
    CHECK(pack->text == file.str());

    // Loading the file from disk gives the same digest as the embedded copy.
    const auto from_disk =
        loadRules({std::string(SCRUB_SOURCE_DIR) + "/rules/packs/" + name + ".yaml"});
    const auto embedded = loadRules({std::string("builtin:") + name});
    REQUIRE(from_disk.ok());
    REQUIRE(embedded.ok());
    CHECK(from_disk->rules->sources[0].sha256 == embedded->rules->sources[0].sha256);
  }
  CHECK(findBuiltinPack("no-such-pack") == nullptr);
}

} // namespace
} // namespace scrub::rules

TEST_CASE("wildcard_keys: default, override, and errors", "[rules][loader]") {
  auto loaded = scrub::rules::loadRulesFromText("version: 1\nname: a\n", "w.yaml");
  REQUIRE(loaded.ok());
  REQUIRE(loaded->rules->wildcard_keys);
  CHECK(loaded->rules->wildcard_keys->pattern() == scrub::rules::kDefaultWildcardKeys);
  auto custom =
      scrub::rules::loadRulesFromText("version: 1\nname: a\nwildcard_keys: '[a-z]+'\n", "w.yaml");
  REQUIRE(custom.ok());
  CHECK(custom->rules->wildcard_keys->pattern() == "[a-z]+");
  auto bad =
      scrub::rules::loadRulesFromText("version: 1\nname: a\nwildcard_keys: '[a-'\n", "w.yaml");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.rfind("w.yaml:3:16: wildcard_keys: invalid RE2 pattern", 0) == 0);
}
