#include "proxy/verify/rule_diff.h"

#include <catch2/catch.hpp>

#include <string>

#include "rules/rule_loader.h"

namespace {

using scrub::verify::DiffFinding;
using scrub::verify::diffRuleSets;
using Kind = DiffFinding::Kind;

scrub::rules::RuleSetPtr load(const std::string& yaml) {
  auto loaded = scrub::rules::loadRulesFromText(yaml, "test.yaml");
  INFO((loaded.ok() ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  return loaded->rules;
}

std::vector<DiffFinding> diff(const std::string& old_yaml, const std::string& new_yaml) {
  return diffRuleSets(*load(old_yaml), *load(new_yaml));
}

bool has(const std::vector<DiffFinding>& findings, Kind kind, const std::string& subject,
         const std::string& detail_part = "") {
  for (const auto& f : findings) {
    if (f.kind == kind && f.subject == subject && f.detail.find(detail_part) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string dump(const std::vector<DiffFinding>& findings) {
  std::string out;
  for (const auto& f : findings) {
    out += std::string(scrub::verify::kindName(f.kind)) + " " + f.subject + ": " + f.detail + "\n";
  }
  return out;
}

const std::string kBase = R"(version: 1
name: base
keep:
  - path: level
    value: '(info|warn)'
  - path: '**._id'
    value: '[1-9][0-9]{0,8}'
deny:
  - name: email
    pattern: '(?i)[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}'
  - name: phone
    pattern: '\+387[ ]?[0-9]{2}[ ]?[0-9]{3}[ ]?[0-9]{3}'
)";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

} // namespace

TEST_CASE("diff: identical rule sets differ in nothing", "[verify][diff]") {
  CHECK(diff(kBase, kBase).empty());
}

TEST_CASE("diff: keep rules added, widened, dropped contracts", "[verify][diff]") {
  SECTION("a path an old rule already covers is no news") {
    const std::string with_keep = replaced(
        kBase, "keep:\n", "keep:\n  - path: 'message[]._id'\n    value: '[1-9][0-9]{0,8}'\n");
    INFO(dump(diff(kBase, with_keep)));
    CHECK(diff(kBase, with_keep).empty());
  }
  SECTION("a new path is widened, with an example path") {
    const auto f = diff(kBase, replaced(kBase, "keep:\n", "keep:\n  - 'child.*'\n"));
    INFO(dump(f));
    CHECK(has(f, Kind::Widened, "keep:child.*", "e.g. child.any_key"));
  }
  SECTION("a dropped contract is widened") {
    const auto f = diff(
        kBase, replaced(kBase, "  - path: level\n    value: '(info|warn)'\n", "  - path: level\n"));
    INFO(dump(f));
    CHECK(has(f, Kind::Widened, "keep:level", "contract dropped"));
  }
  SECTION("a wider contract is shown wider by a sampled value") {
    const auto f = diff(kBase, replaced(kBase, "[1-9][0-9]{0,8}", "[0-9]{1,19}"));
    INFO(dump(f));
    CHECK(has(f, Kind::Widened, "keep:**._id", "now passes"));
  }
  SECTION("a narrower contract cannot be proven narrower: may widen") {
    const auto f = diff(kBase, replaced(kBase, "[1-9][0-9]{0,8}", "[1-9][0-9]{0,4}"));
    INFO(dump(f));
    CHECK(has(f, Kind::MayWiden, "keep:**._id"));
    CHECK_FALSE(has(f, Kind::Widened, "keep:**._id"));
  }
  SECTION("a removed keep rule narrows an allowlist") {
    const auto f = diff(kBase, replaced(kBase, "  - path: level\n    value: '(info|warn)'\n", ""));
    CHECK(has(f, Kind::Narrowed, "keep:level"));
  }
  SECTION("in redact, a removed contract lets values that broke it meet only the detectors") {
    const std::string redact = replaced(kBase, "name: base\n", "name: base\npolicy: redact\n");
    const auto f =
        diff(redact, replaced(redact, "  - path: level\n    value: '(info|warn)'\n", ""));
    INFO(dump(f));
    CHECK(has(f, Kind::Widened, "keep:level", "keep rule removed"));
  }
}

TEST_CASE("diff: detectors removed, weakened, strengthened", "[verify][diff]") {
  SECTION("removed") {
    const auto f = diff(kBase, replaced(kBase,
                                        "  - name: phone\n    pattern: '\\+387[ ]?[0-9]{2}[ ]?"
                                        "[0-9]{3}[ ]?[0-9]{3}'\n",
                                        ""));
    INFO(dump(f));
    CHECK(has(f, Kind::Widened, "detector phone", "removed"));
  }
  SECTION("a narrower pattern is shown by a value that escapes it") {
    const auto f = diff(kBase, replaced(kBase, "\\+387[ ]?[0-9]{2}", "\\+387 [0-9]{2}"));
    INFO(dump(f));
    CHECK(has(f, Kind::Widened, "detector phone", "no longer found"));
  }
  SECTION("a validator, a keys restriction and a weaker action each widen") {
    const auto f = diff(kBase, replaced(kBase, "  - name: email\n",
                                        "  - name: email\n    check: luhn\n    action: mask\n"
                                        "    keys: 'mail'\n"));
    INFO(dump(f));
    CHECK(has(f, Kind::Widened, "detector email", "validator"));
    CHECK(has(f, Kind::Widened, "detector email", "only under keys"));
    CHECK(has(f, Kind::Widened, "detector email", "remove -> mask"));
  }
  SECTION("an added detector narrows") {
    const auto f = diff(kBase, kBase + "  - name: jmbg\n    pattern: '[0-9]{13}'\n");
    CHECK(f.size() == 1);
    CHECK(has(f, Kind::Narrowed, "detector jmbg"));
  }
}

TEST_CASE("diff: policy and settings", "[verify][diff]") {
  const auto f = diff(
      kBase, replaced(kBase, "name: base\n", "name: base\npolicy: redact\ndrop_empty: false\n"));
  INFO(dump(f));
  CHECK(has(f, Kind::Widened, "policy", "allowlist -> redact"));
  CHECK(has(f, Kind::Changed, "setting drop_empty"));
  const auto keys =
      diff(kBase, replaced(kBase, "name: base\n", "name: base\nwildcard_keys: '[^.]+'\n"));
  INFO(dump(keys));
  CHECK(has(keys, Kind::Widened, "setting wildcard_keys", "now pass"));
  const auto back = diff(replaced(kBase, "name: base\n", "name: base\npolicy: redact\n"),
                         replaced(kBase, "name: base\n", "name: base\npolicy: allowlist\n"));
  CHECK(has(back, Kind::Narrowed, "policy"));
}
