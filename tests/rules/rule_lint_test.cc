#include "rules/rule_lint.h"

#include <catch2/catch.hpp>

#include <re2/re2.h>

#include <string>
#include <vector>

#include "rule_test_support.h"
#include "rules/validators.h"

namespace scrub::rules {
namespace {

using testing::loadOk;

std::string allText(const std::vector<LintFinding>& findings) {
  std::string text;
  for (const auto& f : findings) {
    text += f.str() + "\n";
  }
  return text;
}

// The example the lint quotes: the text between "e.g. '" and the next "'".
std::string exampleOf(const std::string& message) {
  const std::string marker = "e.g. '";
  const size_t begin = message.find(marker);
  if (begin == std::string::npos) {
    return {};
  }
  const size_t from = begin + marker.size();
  return message.substr(from, message.find('\'', from) - from);
}

// --- (a) a detector that eats a kept contract --------------------------------------------------

TEST_CASE("lint: a validated JMBG detector can eat a free-length id contract", "[rules][lint]") {
  const auto loaded = loadOk(R"(version: 1
policy: allowlist
keep:
  - path: _id
    value: '[0-9]{1,19}'
deny:
  - name: jmbg
    pattern: '\b[0-9]{13}\b'
    check: jmbg
)");
  INFO(allText(loaded.warnings));
  REQUIRE(loaded.warnings.size() == 1);
  const LintFinding& finding = loaded.warnings[0];
  CHECK(finding.pos.str() == "r.yaml:7:11"); // the detector's name
  CHECK_THAT(finding.message, Catch::StartsWith("deny 'jmbg' can match values that keep:_id "
                                                "(r.yaml:4:11) allows, e.g. '"));
  CHECK_THAT(finding.message, Catch::EndsWith("': it would remove them; narrow the detector or "
                                              "the contract"));
  CHECK_THAT(finding.str(), Catch::StartsWith("r.yaml:7:11: warning: deny 'jmbg'"));

  // The example is real: the contract allows it and it is a valid JMBG.
  const std::string example = exampleOf(finding.message);
  CHECK(example.size() == 13);
  CHECK(RE2::FullMatch(example, "[0-9]{1,19}"));
  CHECK(isValidJmbg(example));

  // lintRuleSet() on the loaded set says the same as the loader did.
  const auto again = lintRuleSet(*loaded.rules);
  REQUIRE(again.size() == 1);
  CHECK(again[0].str() == finding.str());
}

TEST_CASE("lint: a local phone pattern can eat a free-length id contract", "[rules][lint]") {
  const auto loaded = loadOk(R"(version: 1
policy: allowlist
keep:
  - path: _id
    value: '[0-9]{1,19}'
deny:
  - name: phone_local
    pattern: '\b0[3-6][0-9][0-9]{6}\b'
)");
  INFO(allText(loaded.warnings));
  REQUIRE(loaded.warnings.size() == 1);
  const std::string& message = loaded.warnings[0].message;
  CHECK_THAT(message, Catch::Contains("deny 'phone_local'") && Catch::Contains("keep:_id"));
  const std::string example = exampleOf(message);
  CHECK(RE2::FullMatch(example, "[0-9]{1,19}"));
  CHECK(RE2::PartialMatch(example, R"(\b0[3-6][0-9][0-9]{6}\b)"));
}

TEST_CASE("lint: a contract the detector cannot match is quiet", "[rules][lint]") {
  // Kobo ids: at most 9 digits, no leading zero; a JMBG has 13 and a local phone starts with 0.
  const auto loaded = loadOk(R"(version: 1
policy: allowlist
keep:
  - path: _id
    value: '[1-9][0-9]{0,8}'
deny:
  - name: jmbg
    pattern: '\b[0-9]{13}\b'
    check: jmbg
  - name: phone_local
    pattern: '\b0[3-6][0-9][0-9]{6}\b'
)");
  INFO(allText(loaded.warnings));
  CHECK(loaded.warnings.empty());
}

TEST_CASE("lint: a detector restricted to other keys cannot eat the contract", "[rules][lint]") {
  const auto loaded = loadOk(R"(version: 1
policy: allowlist
keep:
  - path: _id
    value: '[0-9]{1,19}'
deny:
  - name: phone_local
    keys: '(?i)phone'
    pattern: '\b0[3-6][0-9][0-9]{6}\b'
)");
  INFO(allText(loaded.warnings));
  CHECK(loaded.warnings.empty());

  // ... but one whose keys match the kept key can.
  const auto on_id = loadOk(R"(version: 1
policy: allowlist
keep:
  - path: 'message[]._id'
    value: '[0-9]{1,19}'
deny:
  - name: phone_local
    keys: '_id'
    pattern: '\b0[3-6][0-9][0-9]{6}\b'
)");
  INFO(allText(on_id.warnings));
  REQUIRE(on_id.warnings.size() == 1);
  CHECK_THAT(on_id.warnings[0].message, Catch::Contains("keep:message[]._id"));
}

TEST_CASE("lint: in redact policy kept fields are exempt from detectors", "[rules][lint]") {
  const auto loaded = loadOk(R"(version: 1
policy: redact
keep:
  - path: _id
    value: '[0-9]{1,19}'
deny:
  - name: jmbg
    pattern: '\b[0-9]{13}\b'
    check: jmbg
  - name: phone_local
    pattern: '\b0[3-6][0-9][0-9]{6}\b'
)");
  INFO(allText(loaded.warnings));
  CHECK(loaded.warnings.empty());
}

// --- (b) shadowed keep rules -------------------------------------------------------------------

TEST_CASE("lint: `**._id` without a contract shadows `message[]._id`", "[rules][lint]") {
  const auto loaded = loadOk(R"(version: 1
keep:
  - path: '**._id'
  - path: 'message[]._id'
    value: '[0-9]+'
)");
  INFO(allText(loaded.warnings));
  REQUIRE(loaded.warnings.size() == 1);
  CHECK(loaded.warnings[0].str() ==
        "r.yaml:4:11: warning: keep:message[]._id is shadowed by keep:**._id (r.yaml:3:11), "
        "which already keeps everything there");
}

TEST_CASE("lint: an identical duplicate is reported once, at the later rule", "[rules][lint]") {
  const auto plain = loadOk(R"(version: 1
keep:
  - path: level
  - path: level
)");
  INFO(allText(plain.warnings));
  REQUIRE(plain.warnings.size() == 1);
  CHECK(plain.warnings[0].str() == "r.yaml:4:11: warning: keep:level is shadowed by keep:level "
                                   "(r.yaml:3:11), which already keeps everything there");

  const auto contracts = loadOk(R"(version: 1
keep:
  - path: _id
    value: '[0-9]+'
  - path: _id
    value: '[0-9]+'
)");
  INFO(allText(contracts.warnings));
  REQUIRE(contracts.warnings.size() == 1);
  CHECK(contracts.warnings[0].str() == "r.yaml:5:11: warning: keep:_id is shadowed by keep:_id "
                                       "(r.yaml:3:11), which already keeps the same values there");
}

TEST_CASE("lint: a key without a contract shadows everything below it", "[rules][lint]") {
  const auto loaded = loadOk(R"(version: 1
keep:
  - path: a.b
  - path: a
)");
  INFO(allText(loaded.warnings));
  REQUIRE(loaded.warnings.size() == 1);
  CHECK(loaded.warnings[0].pos.str() == "r.yaml:3:11");
  CHECK_THAT(loaded.warnings[0].message,
             Catch::StartsWith("keep:a.b is shadowed by keep:a (r.yaml:4:11)"));
}

TEST_CASE("lint: a contract on the outer rule means no shadowing", "[rules][lint]") {
  const auto loaded = loadOk(R"(version: 1
keep:
  - path: a
    value: 'x'
  - path: a.b
  - path: '**._id'
    value: '[0-9]+'
  - path: 'message[]._id'
    value: '[1-9][0-9]*'
  - path: 'x[]._id'
)");
  INFO(allText(loaded.warnings));
  CHECK(loaded.warnings.empty());
}

// --- (c) unreachable keep rules ----------------------------------------------------------------

TEST_CASE("lint: a key-only detector makes a keep path unreachable", "[rules][lint]") {
  const auto loaded = loadOk(R"(version: 1
policy: allowlist
keep:
  - path: child/name.x
  - path: child/age
deny:
  - name: names
    keys: '(?i)name'
)");
  INFO(allText(loaded.warnings));
  REQUIRE(loaded.warnings.size() == 1);
  CHECK(loaded.warnings[0].str() ==
        "r.yaml:4:11: warning: keep:child/name.x can never keep anything: deny 'names' "
        "(r.yaml:7:11) removes key 'child/name' on its path");
}

TEST_CASE("lint: a detector with a pattern does not make a path unreachable", "[rules][lint]") {
  const auto loaded = loadOk(R"(version: 1
policy: allowlist
keep:
  - path: child/name.x
deny:
  - name: names
    keys: '(?i)name'
    pattern: 'zzz-never'
)");
  INFO(allText(loaded.warnings));
  CHECK(loaded.warnings.empty());
}

TEST_CASE("lint: in redact policy only a denied ancestor is unreachable", "[rules][lint]") {
  const auto loaded = loadOk(R"(version: 1
policy: redact
keep:
  - path: child/name
  - path: child/name.x
deny:
  - name: names
    keys: '(?i)name'
)");
  INFO(allText(loaded.warnings));
  // `child/name` itself is exempt in redact mode; `child/name.x` lies under a removed key. (It is
  // also shadowed by `child/name`, which keeps everything below it.)
  int unreachable = 0;
  for (const auto& f : loaded.warnings) {
    if (f.message.find("can never keep anything") != std::string::npos) {
      ++unreachable;
      CHECK_THAT(f.message, Catch::StartsWith("keep:child/name.x "));
    }
  }
  CHECK(unreachable == 1);
}

// --- shipped packs -----------------------------------------------------------------------------

TEST_CASE("lint: every shipped pack loads without warnings", "[rules][lint]") {
  for (const char* pack : {"openfn-retry-ids", "pii-detectors", "kobo-redact"}) {
    INFO(pack);
    const auto loaded = loadRules({pack});
    INFO((loaded.ok() ? std::string() : loaded.error().message));
    REQUIRE(loaded.ok());
    INFO(allText(loaded->warnings));
    CHECK(loaded->warnings.empty());
    CHECK(lintRuleSet(*loaded->rules).empty());
  }
}

} // namespace
} // namespace scrub::rules
