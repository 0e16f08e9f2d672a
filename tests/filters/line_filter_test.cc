#include <simdjson.h>

#include "filter_test_support.h"

using scrub::filters::DropReason;
using scrub::testing::FilterHarness;
using scrub::testing::rulesFromPacks;
using scrub::testing::rulesFromYaml;

namespace {

const char* kAllowIds = R"(
version: 1
name: ids
policy: allowlist
envelope: [level]
keep:
  - path: level
  - path: '**._id'
    value: '[1-9][0-9]{0,18}'
  - path: 'message[]'
    value: 'Starting operation [0-9]+'
)";

} // namespace

TEST_CASE("allowlist keeps named fields and removes the rest", "[filters][allowlist]") {
  FilterHarness h(rulesFromYaml(kAllowIds));
  CHECK(h.pass(R"({"level":"info","_id":42,"name":"Dženana"})") == R"({"level":"info","_id":42})");
  CHECK(h.pass(R"({"message":[{"_id":7,"child/full_name":"Emir"},"free text"]})") ==
        R"({"message":[{"_id":7}]})");
  CHECK(h.pass(R"({"a":{"b":{"c":[[{"_id":9}]]}}})") == R"({"a":{"b":{"c":[[{"_id":9}]]}}})");
  CHECK(h.pass(R"({"message":["Starting operation 2","Case for Amra"]})") ==
        R"({"message":["Starting operation 2"]})");
}

TEST_CASE("value contracts remove values that break them", "[filters][allowlist]") {
  FilterHarness h(rulesFromYaml(kAllowIds));
  CHECK(h.pass(R"({"_id":"Dženana Smajlović","x":{"_id":12}})") == R"({"x":{"_id":12}})");
  CHECK(h.drop(R"({"level":"info","_id":"0101010170005x"})") == DropReason::Empty);
  CHECK(h.drop(R"({"level":"info","_id":123456789012345678901234})") == DropReason::Empty);
  const auto& c = h.counters();
  CHECK(c.keep[1].contract_failed == 3);
  CHECK(c.keep[1].kept == 1);
}

TEST_CASE("lines with nothing but the envelope are dropped", "[filters][allowlist]") {
  FilterHarness h(rulesFromYaml(kAllowIds));
  CHECK(h.drop(R"({"level":"info","message":["Case for Amra, 061 482 913"]})") ==
        DropReason::Empty);
  CHECK(h.drop(R"({})") == DropReason::Empty);
  CHECK(h.counters().dropped[static_cast<size_t>(DropReason::Empty)] == 2);

  FilterHarness keep_empty(rulesFromYaml(std::string(kAllowIds) + "drop_empty: false\n"));
  CHECK(keep_empty.pass(R"({"level":"info","secret":"x"})") == R"({"level":"info"})");
  CHECK(keep_empty.pass(R"({"secret":"x"})") == "{}");
}

TEST_CASE("kept values are copied byte-exact", "[filters][bytes]") {
  FilterHarness h(rulesFromYaml(R"(
version: 1
name: exact
keep: [n, s, t, z]
)"));
  CHECK(h.pass(R"({"n":1e400})") == R"({"n":1e400})");
  CHECK(h.pass(R"({"n":-0.0,"t":true,"z":null})") == R"({"n":-0.0,"t":true,"z":null})");
  CHECK(h.pass(R"({"n":9448242})") == R"({"n":9448242})");
  CHECK(h.pass(R"({"n":123456789012345678901234567890})") ==
        R"({"n":123456789012345678901234567890})");
  CHECK(h.pass(R"({"s":"\u0041\n\"\u017e\/"})") == R"({"s":"\u0041\n\"\u017e\/"})");
  CHECK(h.pass("{ \"s\" :\t\"a\" ,\n \"n\" : 1.5E-3 }") == R"({"s":"a","n":1.5E-3})");
}

TEST_CASE("keys are decided on their unescaped text", "[filters][keys]") {
  FilterHarness h(rulesFromYaml(kAllowIds));
  // "\u005fid" is "_id": it gets the _id contract, not a way around it.
  CHECK(h.pass(R"({"\u005fid":42})") == R"({"_id":42})");
  CHECK(h.pass(R"({"\u005fid":"Dženana","_id":5})") == R"({"_id":5})");
  // Duplicate keys: each occurrence is decided on its own.
  CHECK(h.pass(R"({"_id":1,"_id":"Dženana","_id":2})") == R"({"_id":1,"_id":2})");
  CHECK(h.pass(R"({"":"x","_id":3})") == R"({"_id":3})");
}

TEST_CASE("fail closed: malformed lines are dropped with a reason", "[filters][fail-closed]") {
  FilterHarness h(rulesFromYaml(kAllowIds));
  // Errors inside subtrees no rule reaches are still errors.
  CHECK(h.drop(R"({"a":tru,"_id":1})") == DropReason::InvalidJson);
  CHECK(h.drop(R"({"a":[1,2,],"_id":1})") == DropReason::InvalidJson);
  CHECK(h.drop(R"({"a":{"b" 1},"_id":1})") == DropReason::InvalidJson);
  CHECK(h.drop(R"({"a":"\x","_id":1})") == DropReason::InvalidJson);
  CHECK(h.drop(R"({"a":01,"_id":1})") == DropReason::InvalidJson);
  CHECK(h.drop(R"({"a":1.,"_id":1})") == DropReason::InvalidJson);
  CHECK(h.drop(R"({"a":nul,"_id":1})") == DropReason::InvalidJson);
  CHECK(h.drop(R"({"a":"\ud800","_id":1})") == DropReason::InvalidJson);
  CHECK(h.drop(R"({"_id":1}{"_id":2})") == DropReason::InvalidJson);
  CHECK(h.drop(R"({"_id":1} x)") == DropReason::InvalidJson);
  CHECK(h.drop(R"({"_id":1)") == DropReason::InvalidJson);
  CHECK(h.drop(R"({"_id":5512003,"note":"Dženana)") == DropReason::InvalidJson);
  CHECK(h.drop("{\"a\":\"x\x01y\",\"_id\":1}") == DropReason::InvalidJson);
  CHECK(h.drop("{\"a\":\"\xff\",\"_id\":1}") == DropReason::InvalidUtf8);
  CHECK(h.drop("{\"a\":\"\xc3\x28\",\"_id\":1}") == DropReason::InvalidUtf8);
  CHECK(h.drop(R"([{"_id":1}])") == DropReason::NotObject);
  CHECK(h.drop(R"("text")") == DropReason::NotObject);
  CHECK(h.drop(R"(42)") == DropReason::NotObject);
  CHECK(h.drop("not json at all") == DropReason::InvalidJson);
  const auto& c = h.counters();
  CHECK(c.lines_out == 0);
  CHECK(c.lines_in == c.droppedTotal());
  CHECK(c.dropped[static_cast<size_t>(DropReason::InvalidUtf8)] == 2);
  CHECK(c.dropped[static_cast<size_t>(DropReason::NotObject)] == 3);
}

TEST_CASE("fail closed: over-long and over-deep lines", "[filters][fail-closed]") {
  scrub::filters::FilterLimits limits;
  limits.max_line_bytes = 64;
  limits.max_depth = 4;
  FilterHarness h(rulesFromYaml(kAllowIds), limits);
  CHECK(h.pass(R"({"a":{"b":{"_id":1}}})") == R"({"a":{"b":{"_id":1}}})");
  CHECK(h.drop(R"({"x":"................................................................"})") ==
        DropReason::TooLong);
  // Depth counts every container, also those no rule reaches.
  CHECK(h.drop(R"({"a":{"b":{"c":{"d":{}}}},"_id":1})") == DropReason::TooDeep);
  CHECK(h.drop(R"({"a":[[[[1]]]],"_id":1})") == DropReason::TooDeep);
  CHECK(h.pass(R"({"a":[[[1]]],"_id":1})") == R"({"_id":1})");
}

TEST_CASE("JSON inside strings is filtered under the string's path", "[filters][embedded]") {
  FilterHarness h(rulesFromYaml(kAllowIds));
  CHECK(h.pass(R"({"message":["{\"_id\":77,\"child/full_name\":\"Emir Hodžić\"}"]})") ==
        R"({"message":["{\"_id\":77}"]})");
  // A string that only looks like JSON is text: no keep rule names message[] text here.
  CHECK(h.drop(R"({"level":"x","message":["{not json, Emir}"]})") == DropReason::Empty);
  // Strings within strings, and arrays.
  CHECK(h.pass(R"({"message":["[{\"a\":\"{\\\"_id\\\":5,\\\"n\\\":\\\"Amra\\\"}\"}]"]})") ==
        R"({"message":["[{\"a\":\"{\\\"_id\\\":5}\"}]"]})");
  CHECK(h.counters().embedded_json == 3);

  scrub::filters::FilterLimits limits;
  limits.max_embedded_bytes = 8;
  FilterHarness small(rulesFromYaml(kAllowIds), limits);
  CHECK(small.drop(R"({"level":"x","message":["{\"_id\":77,\"n\":\"Amra\"}"]})") ==
        DropReason::Empty);
}

namespace {

const char* kRedact = R"(
version: 1
name: redact
policy: redact
keep:
  - path: _id
    value: '[0-9]+'
  - path: meta
deny:
  - name: email
    pattern: '(?i)[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}'
  - name: phone
    pattern: '\+387[ ]?[0-9]{2}[ ]?[0-9]{3}[ ]?[0-9]{3}'
  - name: jmbg
    pattern: '\b[0-9]{13}\b'
    check: jmbg
  - name: dob
    keys: '(?i)dob|birth'
    pattern: '[0-9]{4}-[0-9]{2}-[0-9]{2}'
  - name: personal_keys
    keys: '(?i)(^|/)(full_name|address)$'
    action: remove
  - name: card
    pattern: '\b4[0-9]{15}\b'
    check: luhn
    action: remove
)";

} // namespace

TEST_CASE("redact masks what detectors find and passes the rest", "[filters][redact]") {
  FilterHarness h(rulesFromYaml(kRedact));
  CHECK(h.pass(R"({"note":"mail d.smajlovic@example.net now","n":3})") ==
        R"({"note":"mail [REDACTED:email] now","n":3})");
  CHECK(h.pass(R"({"p":"+387 61 482 913 and +38761482914"})") ==
        R"({"p":"[REDACTED:phone] and [REDACTED:phone]"})");
  // Escaped input is decided on its unescaped text: \u0040 is '@'.
  CHECK(h.pass(R"({"note":"a\u0040example.net"})") == R"({"note":"[REDACTED:email]"})");
  // A phone as a JSON number is masked too (and becomes a string).
  CHECK(h.pass(R"({"p":38761482913})") == R"({"p":38761482913})");
  CHECK(h.pass(R"({"child/full_name":"Emir","child/address":"Ulica 1","ok":"yes"})") ==
        R"({"ok":"yes"})");
  CHECK(h.pass(R"({"x":"card 4111111111111111","y":1})") == R"({"y":1})");
  CHECK(h.pass(R"({"x":"card 4111111111111112"})") == R"({"x":"card 4111111111111112"})");
  const auto& c = h.counters();
  CHECK(c.detectors[0].masked == 2);
  CHECK(c.detectors[1].masked == 2);
  CHECK(c.detectors[4].removed == 2);
  CHECK(c.detectors[5].removed == 1);
}

TEST_CASE("validators cut false positives", "[filters][redact]") {
  FilterHarness h(rulesFromYaml(kRedact));
  // A valid JMBG (01.01.2010, region 17, check digit 2) is masked; an order number is not.
  CHECK(h.pass(R"({"j":"0101010170002"})") == R"({"j":"[REDACTED:jmbg]"})");
  CHECK(h.pass(R"({"j":"0101010170005"})") == R"({"j":"0101010170005"})");
}

TEST_CASE("detectors with keys apply only under matching keys", "[filters][redact]") {
  FilterHarness h(rulesFromYaml(kRedact));
  CHECK(h.pass(R"({"child/dob":"2014-05-17","_submission_time":"2024-05-17"})") ==
        R"({"child/dob":"[REDACTED:dob]","_submission_time":"2024-05-17"})");
  CHECK(h.pass(R"({"births":["2014-05-17"]})") == R"({"births":["[REDACTED:dob]"]})");
}

TEST_CASE("keep rules exempt fields in redact mode, contracts still hold", "[filters][redact]") {
  FilterHarness h(rulesFromYaml(kRedact));
  CHECK(h.pass(R"({"_id":38761482913,"meta":{"by":"a@example.net"}})") ==
        R"({"_id":38761482913,"meta":{"by":"a@example.net"}})");
  CHECK(h.pass(R"({"_id":"a@example.net","k":1})") == R"({"k":1})");
  CHECK(h.counters().fields_exempt == 2);
  CHECK(h.counters().keep[0].contract_failed == 1);
}

TEST_CASE("keys that carry data are removed", "[filters][redact]") {
  FilterHarness h(rulesFromYaml(kRedact));
  CHECK(h.pass(R"({"d.smajlovic@example.net":{"x":1},"k":2})") == R"({"k":2})");
}

TEST_CASE("detectors veto kept fields in allowlist mode", "[filters][allowlist]") {
  FilterHarness h(rulesFromYaml(R"(
version: 1
name: veto
policy: allowlist
keep: [note, level, tags]
deny:
  - name: email
    pattern: '[a-z.]+@[a-z]+\.[a-z]+'
    action: mask
  - name: phone
    pattern: '06[0-9] [0-9]{3} [0-9]{3}'
)"));
  CHECK(h.pass(R"({"level":"info","note":"from a.b@example.net"})") ==
        R"({"level":"info","note":"from [REDACTED:email]"})");
  CHECK(h.pass(R"({"level":"info","note":"call 061 482 913"})") == R"({"level":"info"})");
  CHECK(h.pass(R"({"tags":["ok","061 482 913"]})") == R"({"tags":["ok"]})");
}

TEST_CASE("hash replaces matches with keyed pseudonyms", "[filters][hash]") {
  scrub::rules::LoadOptions options;
  options.get_env = [](const char* name) -> const char* {
    return std::string_view(name) == "TEST_KEY" ? "0123456789abcdef0123456789abcdef" : nullptr;
  };
  FilterHarness h(rulesFromYaml(R"(
version: 1
name: hash
policy: redact
action: hash
hash_key: {id: k1, env: TEST_KEY}
deny:
  - name: phone
    pattern: '06[0-9] [0-9]{3} [0-9]{3}'
  - name: caregiver
    keys: '^caregiver$'
)",
                                options));
  const std::string a = h.pass(R"({"p":"call 061 482 913"})");
  const std::string b = h.pass(R"({"q":"061 482 913"})");
  const std::string c = h.pass(R"({"q":"061 482 914"})");
  CHECK(a.starts_with(R"({"p":"call [HMAC:k1:)"));
  CHECK(a.find("482") == std::string::npos);
  // Stable for the same input, different for another: joins still work.
  CHECK(a.substr(a.find("[HMAC")) == b.substr(b.find("[HMAC")));
  CHECK(b != c);
  const std::string d = h.pass(R"({"caregiver":"Amra Begić"})");
  CHECK(d.starts_with(R"({"caregiver":"[HMAC:k1:)"));
  CHECK(h.counters().detectors[0].hashed == 3);
}

TEST_CASE("custom mask format", "[filters][redact]") {
  FilterHarness h(rulesFromYaml(R"(
version: 1
name: m
policy: redact
mask: '***{rule}***'
deny:
  - name: email
    pattern: '[a-z]+@[a-z]+\.[a-z]+'
)"));
  CHECK(h.pass(R"({"e":"x a@b.cd y"})") == R"({"e":"x ***email*** y"})");
}

TEST_CASE("openfn-retry-ids: the shapes OpenFn runners write", "[filters][packs]") {
  FilterHarness h(rulesFromPacks({"openfn-retry-ids"}));
  const char* ids =
      R"({"level":"info","name":"JOB","message":[{"_id":9448242,"_xform_id":7205}],"time":"1795397774154603532"})";
  CHECK(h.pass(ids) == ids);
  CHECK(
      h.pass(
          R"({"level":"info","name":"R/T","message":["Starting operation 2"],"time":"1795397774154603532"})") ==
      R"({"level":"info","name":"R/T","message":["Starting operation 2"],"time":"1795397774154603532"})");
  CHECK(
      h.pass(
           R"({"level":"info","name":"R/T","message":["Operation 1 complete in 0ms"],"time":"1795397774154603532"})")
          .find("complete in 0ms") != std::string::npos);
  CHECK(
      h.drop(
          R"({"level":"info","name":"JOB","message":["Case for Dženana Smajlović, +387 63 555 019"],"time":"1795397774154603533"})") ==
      DropReason::Empty);
  CHECK(
      h.pass(
          R"({"_id":5512002,"caregiver/email":"d.smajlovic@example.net","child/jmbg":"0101010170005"})") ==
      R"({"_id":5512002})");
  CHECK(h.drop(R"({"_id":"Dženana Smajlović"})") == DropReason::Empty);
  CHECK(
      h.pass(
          R"({"level":"info","name":"JOB","message":["Processing",{"submission":{"_id":5,"_xform_id":6,"child/phone":"061 482 913"}}],"time":"1795397774154603532"})") ==
      R"({"level":"info","name":"JOB","message":[{"submission":{"_id":5,"_xform_id":6}}],"time":"1795397774154603532"})");
  // Lightning worker form.
  CHECK(
      h.pass(
          R"({"message":"Starting operation 1","source":"R/T","level":"info","timestamp":"2025-03-04T10:11:12.123Z","step_id":"0f8fad5b-d9cb-469f-a165-70867728950e"})") ==
      R"({"message":"Starting operation 1","source":"R/T","level":"info","timestamp":"2025-03-04T10:11:12.123Z","step_id":"0f8fad5b-d9cb-469f-a165-70867728950e"})");
  CHECK(
      h.drop(
          R"({"message":"Case for Amra Begić","source":"JOB","level":"info","timestamp":"2025-03-04T10:11:12.123Z","step_id":"0f8fad5b-d9cb-469f-a165-70867728950e"})") ==
      DropReason::Empty);
  // A forged envelope value breaks its contract.
  CHECK(h.pass(R"({"level":"Amra Begić","_id":1})") == R"({"_id":1})");
}

TEST_CASE("kobo-redact: system fields pass, personal fields go", "[filters][packs]") {
  FilterHarness h(rulesFromPacks({"kobo-redact"}));
  const std::string out = h.pass(
      R"({"_id":123,"_xform_id":7,"_uuid":"0f8fad5b-d9cb-469f-a165-70867728950e","child/full_name":"Emir Hodžić","caregiver/phone":"061 482 913","notes/free_text":"call +387 61 482 913 or mail e.h@example.net","_geolocation":[43.8563,18.4131],"location/gps":"43.8563 18.4131 0 0","child/jmbg":"0101010170002","_status":"submitted_via_web","meta/instanceID":"uuid:0f8fad5b-d9cb-469f-a165-70867728950e"})");
  CHECK(
      out ==
      R"({"_id":123,"_xform_id":7,"_uuid":"0f8fad5b-d9cb-469f-a165-70867728950e","notes/free_text":"call [REDACTED:phone_ba] or mail [REDACTED:email]","location/gps":"[REDACTED:geo_keys]","_status":"submitted_via_web","meta/instanceID":"uuid:0f8fad5b-d9cb-469f-a165-70867728950e"})");
}

TEST_CASE("output is always valid JSON", "[filters][bytes]") {
  FilterHarness h(rulesFromPacks({"kobo-redact"}));
  simdjson::dom::parser parser;
  for (const char* line : {R"({"a":"x\"y\\z\u0001","b":[1,{"c":"d@e.fg"}],"e":{}})",
                           R"({"k\"ey":"v","n":[[],[{}]],"t":"\ud83d\ude00"})"}) {
    const std::string out = h.pass(line);
    INFO(out);
    CHECK_FALSE(parser.parse(out).error());
  }
}

TEST_CASE("allowlist: keys only a wildcard lets through must look like identifiers",
          "[filters][allowlist][wildcard-keys]") {
  FilterHarness h(rulesFromYaml(kAllowIds));
  // A map keyed by personal data on the way to a kept id: the key would leave with the id.
  CHECK(h.drop(R"({"level":"x","m":{"lejla.mujkic@example.net":{"_id":41}}})") ==
        DropReason::Empty);
  CHECK(h.drop(R"({"level":"x","m":{"+387 62 555 014":[{"_id":42}]}})") == DropReason::Empty);
  CHECK(h.drop(R"({"level":"x","m":{"Lejla Mujki\u0107":{"_id":43}}})") == DropReason::Empty);
  CHECK(h.drop(R"({"level":"x","m":{"0614829130":{"_id":44}}})") == DropReason::Empty);
  CHECK(h.counters().fields_key_rejected == 4);
  // Identifier-like keys (Kobo groups included) pass; literal keys are never checked.
  CHECK(h.pass(R"({"submission":{"child/details":{"_id":45}}})") ==
        R"({"submission":{"child/details":{"_id":45}}})");

  FilterHarness custom(rulesFromYaml(std::string(kAllowIds) + "wildcard_keys: '[a-z]+'\n"));
  CHECK(custom.pass(R"({"a":{"_id":1},"B":{"_id":2}})") == R"({"a":{"_id":1}})");
}

TEST_CASE("per-line budget: too much detector or decoding work drops the line",
          "[filters][fail-closed][budget]") {
  SECTION("detector scanning, counting every pass over a value") {
    scrub::filters::FilterLimits limits;
    limits.max_scan_bytes = 4096;
    FilterHarness h(rulesFromPacks({"kobo-redact", "pii-detectors"}), limits);
    const std::string small(1000, 'a');
    CHECK(h.pass(R"({"note":")" + small + "\"}").size() > small.size());
    // The same bytes spread over more fields pass as long as the total stays within budget...
    CHECK(h.pass(R"({"n1":")" + small + R"(","n2":")" + small + "\"}").size() > 2 * small.size());
    // ...and a line whose values need more scanning than that is dropped whole.
    std::string many = "{";
    for (int i = 0; i < 6; ++i) {
      many += (i ? ",\"n" : "\"n") + std::to_string(i) + "\":\"" + small + "\"";
    }
    many += "}";
    CHECK(h.drop(many) == DropReason::OverBudget);
    // A value every detector fires on costs one pass per detector: few bytes, much work.
    std::string hits = "+387 61 482 913 0101990170005 child@example.org ";
    std::string dense;
    while (dense.size() < 2000) {
      dense += hits;
    }
    CHECK(h.drop(R"({"note":")" + dense + "\"}") == DropReason::OverBudget);
    CHECK(h.counters().dropped[static_cast<size_t>(DropReason::OverBudget)] == 2);
  }
  SECTION("JSON decoded from strings, summed over the line") {
    scrub::filters::FilterLimits limits;
    limits.max_decoded_bytes = 100;
    FilterHarness h(rulesFromYaml(kAllowIds), limits);
    const std::string inner = R"({\"_id\":5,\"name\":\"Amra Hodžić\"})";
    CHECK(h.pass(R"({"message":")" + inner + "\"}") == R"({"message":"{\"_id\":5}"})");
    std::string repeated = R"({"message":[)";
    for (int i = 0; i < 5; ++i) {
      repeated += (i ? ",\"" : "\"") + inner + "\"";
    }
    repeated += "]}";
    CHECK(h.drop(repeated) == DropReason::OverBudget);
  }
}
