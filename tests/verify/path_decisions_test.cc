#include "proxy/verify/path_decisions.h"

#include <catch2/catch.hpp>

#include <string>

#include "rules/rule_loader.h"
#include "tests/verify/verify_test_support.h"

namespace {

using scrub::testing::runScrubproxy;
using scrub::testing::ScratchDir;
using scrub::verify::Fate;
using scrub::verify::FieldDecision;
using scrub::verify::PathDecider;

scrub::rules::RuleSetPtr load(const std::string& yaml) {
  auto loaded = scrub::rules::loadRulesFromText(yaml, "test.yaml");
  INFO((loaded.ok() ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  return loaded->rules;
}

std::vector<FieldDecision> decide(const std::string& yaml, const std::string& line) {
  const auto rules = load(yaml);
  PathDecider decider;
  scrub::filters::FilterCounters counters;
  std::vector<FieldDecision> fields;
  decider.decide(line, *rules, fields, counters);
  return fields;
}

const FieldDecision* find(const std::vector<FieldDecision>& fields, const std::string& path) {
  for (const auto& d : fields) {
    if (d.path == path) {
      return &d;
    }
  }
  return nullptr;
}

} // namespace

TEST_CASE("parentPath walks up rendered paths", "[verify][coverage]") {
  CHECK(scrub::verify::parentPath("a.b[]") == "a.b");
  CHECK(scrub::verify::parentPath("message[].child/full_name") == "message[]");
  CHECK(scrub::verify::parentPath("a.\"x.y\".z") == "a.\"x.y\"");
  CHECK(scrub::verify::parentPath("a.\"x.y\"") == "a");
  CHECK(scrub::verify::parentPath("level").empty());
}

TEST_CASE("printPath elides keys that are data", "[verify][coverage]") {
  auto pii = scrub::rules::loadRules({"builtin:pii-detectors"});
  REQUIRE(pii.ok());
  CHECK(scrub::verify::printPath("message[].\"lejla.mujkic@example.net\"._id", *pii->rules) ==
        "message[].<key:email>._id");
  CHECK(scrub::verify::printPath("message[].child/full_name", *pii->rules) ==
        "message[].child/full_name");
}

TEST_CASE("every field gets a decision, also inside containers decided whole",
          "[verify][coverage]") {
  SECTION("allowlist: a removed container's fields are removed with it, unnamed") {
    const auto fields = decide("version: 1\nname: t\nkeep:\n  - level\n  - 'message[]'\n",
                               R"({"level":"info","child":{"full_name":"X","tags":[1]}})");
    const auto* child = find(fields, "child");
    REQUIRE(child != nullptr);
    CHECK(child->label == "removed:unmatched");
    CHECK_FALSE(child->named);
    const auto* name = find(fields, "child.full_name");
    REQUIRE(name != nullptr);
    CHECK(name->inherited);
    CHECK(name->fate == Fate::Removed);
    CHECK_FALSE(name->named);
    CHECK(find(fields, "child.tags[]") != nullptr);
    CHECK(find(fields, "level")->fate == Fate::Leaves);
  }
  SECTION("allowlist: fields inside a subtree kept whole pass under that keep rule") {
    const auto fields = decide("version: 1\nname: t\nkeep:\n  - level\n  - 'message[]'\n",
                               R"({"level":"info","message":[{"phone":"061 482 913"}]})");
    const auto* phone = find(fields, "message[].phone");
    REQUIRE(phone != nullptr);
    CHECK(phone->label == "passed");
    CHECK(phone->rule == "keep:message[]");
    CHECK(phone->named);
    CHECK(phone->fate == Fate::Leaves);
  }
  SECTION("redact: an exempt container's fields are exempt with it; clean fields are unnamed") {
    const auto fields = decide("version: 1\nname: t\npolicy: redact\nkeep:\n  - meta\n",
                               R"({"meta":{"a":1,"b":{"c":"x"}},"note":"hello"})");
    const auto* c = find(fields, "meta.b.c");
    REQUIRE(c != nullptr);
    CHECK(c->inherited);
    CHECK(c->label == "exempt");
    CHECK(c->rule == "keep:meta");
    CHECK(c->fate == Fate::Leaves);
    const auto* note = find(fields, "note");
    REQUIRE(note != nullptr);
    CHECK(note->label == "passed");
    CHECK_FALSE(note->named);
  }
  SECTION("JSON inside a string is decided inside, under the string's path") {
    const auto fields =
        decide("version: 1\nname: t\nkeep:\n  - level\n  - path: '**._id'\n    value: '[0-9]+'\n",
               R"({"level":"info","message":["{\"_id\":7,\"name\":\"X\"}"]})");
    CHECK(find(fields, "message[]")->label == "embedded-json");
    CHECK(find(fields, "message[]._id")->label == "kept");
    CHECK(find(fields, "message[].name")->label == "removed:unmatched");
  }
  SECTION("a key only a wildcard reached that is data goes with its subtree, unnamed") {
    auto pack = scrub::rules::loadRules({"openfn-retry-ids"});
    REQUIRE(pack.ok());
    PathDecider decider;
    scrub::filters::FilterCounters counters;
    std::vector<FieldDecision> fields;
    decider.decide(R"({"level":"info","message":[{"lejla@example.net":{"_id":1}}]})", *pack->rules,
                   fields, counters);
    const auto* key = find(fields, "message[].\"lejla@example.net\"");
    REQUIRE(key != nullptr);
    CHECK(key->fate == Fate::Removed);
    CHECK_FALSE(key->named);
    const auto* id = find(fields, "message[].\"lejla@example.net\"._id");
    REQUIRE(id != nullptr);
    CHECK(id->inherited);
    CHECK(id->fate == Fate::Removed);
  }
  SECTION("a line that is not JSON has no field decisions") {
    CHECK(decide("version: 1\nname: t\nkeep:\n  - level\n", "not json").empty());
  }
}

TEST_CASE("coverage lists unnamed paths first and never prints values", "[verify][coverage]") {
  ScratchDir dir;
  const auto corpus = dir.write(
      "corpus.jsonl",
      R"({"level":"info","name":"JOB","message":[{"_id":1,"child/new_field":"Dženana Babić"}],"time":"1795397774154603532"})"
      "\n"
      R"({"level":"info","name":"JOB","message":[{"_id":2,"dzenana.babic@example.net":{"_id":3}}],"time":"1795397774154603532"})"
      "\n");
  const auto run = runScrubproxy("coverage --rules openfn-retry-ids --corpus '" + corpus + "'");
  CHECK(run.exit_code == 0);
  const size_t unnamed = run.out.find("not named by any rule");
  const size_t named = run.out.find("named by rules");
  const size_t field = run.out.find("message[].child/new_field");
  REQUIRE(unnamed != std::string::npos);
  REQUIRE(named != std::string::npos);
  REQUIRE(field != std::string::npos);
  CHECK(unnamed < field);
  CHECK(field < named);
  CHECK(run.out.find("kept by keep:**._id 2") != std::string::npos);
  CHECK(run.out.find("Dženana") == std::string::npos);
  CHECK(run.out.find("example.net") == std::string::npos); // a key that is data is elided
  CHECK(run.out.find("<key:email>") != std::string::npos);
  CHECK(runScrubproxy("coverage --rules openfn-retry-ids").exit_code == 2);
  CHECK(runScrubproxy("coverage --rules openfn-retry-ids --corpus /nonexistent").exit_code == 2);
}

TEST_CASE("diff command: exit codes, comma lists, examples from a corpus", "[verify][diff]") {
  ScratchDir dir;
  const auto weak = dir.write("weak.yaml", "version: 1\nname: weak\nkeep:\n  - 'message[]'\n");
  const auto corpus = dir.write(
      "corpus.jsonl",
      R"({"level":"info","name":"JOB","message":["Case for Dženana Babić"],"time":"1795397774154603532"})"
      "\n");
  CHECK(runScrubproxy("diff openfn-retry-ids openfn-retry-ids").exit_code == 0);
  CHECK(runScrubproxy("diff --old openfn-retry-ids --new openfn-retry-ids").exit_code == 0);
  // Adding a rule file to the old rules makes nothing wider than the old rules with it.
  CHECK(runScrubproxy("diff openfn-retry-ids,'" + weak + "' openfn-retry-ids").exit_code == 0);
  const auto run = runScrubproxy("diff openfn-retry-ids openfn-retry-ids,'" + weak +
                                 "' --corpus '" + corpus + "'");
  CHECK(run.exit_code == 1);
  CHECK(run.out.find("keep:message[]: value contract dropped") != std::string::npos);
  CHECK(run.out.find("message[]: removed:contract by keep:message[] -> kept by keep:message[]") !=
        std::string::npos);
  CHECK(run.out.find("Dženana") == std::string::npos);
  CHECK(runScrubproxy("diff openfn-retry-ids").exit_code == 2);
  CHECK(runScrubproxy("diff openfn-retry-ids /nonexistent.yaml").exit_code == 2);
  CHECK(runScrubproxy("diff a b c").exit_code == 2);
}
