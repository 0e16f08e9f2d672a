// `scrubproxy verify` against the real binary: a verifier that cannot fail proves nothing, so a
// deliberately weak rule file must be caught leaking in every encoding, each line holding its
// planted value only in that one encoding.

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <map>
#include <string>
#include <vector>

#include "tests/verify/verify_test_support.h"

namespace {

using scrub::testing::readFile;
using scrub::testing::runScrubproxy;
using scrub::testing::ScratchDir;

// Keeps every message[] element whole, with no contract and no detector: anything planted
// there leaves.
constexpr const char* kWeakRules = R"(version: 1
name: weak-for-tests
policy: allowlist
keep:
  - level
  - 'message[]'
)";

// Canary ids are their line numbers in this file.
constexpr const char* kCanaries = "# canaries for the encoding tests\n"
                                  "Dženana Babić\n"        // 2
                                  "+387 61 482 913\n"      // 3
                                  "Emir \"Emko\" Hodžić\n" // 4
                                  "061/482-913\n"          // 5
                                  "Ana😀Kovač\n"            // 6
                                  "Dz\xcc\x8c"
                                  "enana Softic\xcc\x81\n"          // 7 (written NFD)
                                  "snjezana.cosic95@example.net\n"; // 8

struct Planted {
  std::string body; // the message element as it appears in the JSON line (already escaped)
  uint32_t canary;
  std::string form;
};

// Expected encodings were produced independently (Python's json, base64, urllib.parse and
// unicodedata), not with the code under test.
const std::vector<Planted>& planted() {
  static const std::vector<Planted> kPlanted = {
      {"case for Dženana Babić", 2, "raw"},
      {"Emir \\\"Emko\\\" Hodžić", 4, "json"},
      {"call 061\\/482-913", 5, "json-slash"},
      {"Emir \\\\\\\"Emko\\\\\\\" Hodžić", 4, "json-double"},
      {"D\\u017eenana Babi\\u0107", 2, "u-escape"},
      {"D\\u017Eenana Babi\\u0107", 2, "u-escape-upper"},
      {"\\u0044\\u017e\\u0065\\u006e\\u0061\\u006e\\u0061\\u0020\\u0042\\u0061\\u0062\\u0069"
       "\\u0107",
       2, "u-escape-all"},
      {"\\u0044\\u017E\\u0065\\u006E\\u0061\\u006E\\u0061\\u0020\\u0042\\u0061\\u0062\\u0069"
       "\\u0107",
       2, "u-escape-all-upper"},
      {"Ana\\ud83d\\ude00Kova\\u010d", 6, "u-escape"},
      {"call 38761482913 now", 3, "digits"},
      {"dial 0038761482913", 3, "digits-00"},
      {"q=D%C5%BEenana%20Babi%C4%87&x=1", 2, "url"},
      {"q=D%C5%BEenana+Babi%C4%87", 2, "url-plus"},
      {"q=D%c5%beenana%20Babi%c4%87", 2, "url-lower"},
      {"q=snjezana.cosic95%40example.net", 8, "url"},
      {"RMW+ZW5hbmEgQmFiacSHJmlkPTE=", 2, "base64"},             // base64("Dženana Babić&id=1")
      {"eETFvmVuYW5hIEJhYmnEhyZpZD0x", 2, "base64"},             // base64("x" + ...), alignment 1
      {"eHlExb5lbmFuYSBCYWJpxIcmaWQ9MQ==", 2, "base64"},         // base64("xy" + ...), alignment 2
      {"RMW-ZW5hbmEgQmFiacSHJmlkPTE", 2, "base64url"},           // url-safe, unpadded
      {"c25qZXphbmEuY29zaWM5NUBleGFtcGxlLm5ldA==", 8, "base64"}, // the value alone
      {"Dženana Softić", 7, "nfc"},
      {"Dz\xcc\x8c"
       "enana Babic\xcc\x81",
       2, "nfd"},
      {"dženana babić", 2, "lower"},
      {"DŽENANA BABIĆ", 2, "upper"},
      {"D\\u017dENANA BABI\\u0106", 2, "upper+u-escape"},
      {"mixed D\\u017eenana Babić", 2, "decoded:raw"},
  };
  return kPlanted;
}

struct Leak {
  uint64_t line;
  uint64_t canary;
  std::string form;
};

std::vector<Leak> leaksOf(const std::string& report_json) {
  simdjson::dom::parser parser;
  simdjson::dom::element report;
  REQUIRE_FALSE(parser.parse(report_json).get(report));
  std::vector<Leak> out;
  simdjson::dom::array leaks;
  REQUIRE_FALSE(report["leaks"].get(leaks));
  for (auto leak : leaks) {
    uint64_t line = 0;
    uint64_t canary = 0;
    std::string_view form;
    REQUIRE_FALSE(leak["line"].get(line));
    REQUIRE_FALSE(leak["canary_id"].get(canary));
    REQUIRE_FALSE(leak["form"].get(form));
    out.push_back({line, canary, std::string(form)});
  }
  return out;
}

std::string line(const std::string& body) {
  return R"({"level":"info","message":[")" + body + R"("]})" + "\n";
}

} // namespace

TEST_CASE("verify catches a weak rule file leaking in every encoding", "[verify][command]") {
  ScratchDir dir;
  const auto rules = dir.write("weak.yaml", kWeakRules);
  const auto canaries = dir.write("canaries.txt", kCanaries);
  std::string corpus;
  for (const auto& p : planted()) {
    corpus += line(p.body);
  }
  // A control line with nothing planted must not be reported.
  corpus += line("Operation 2 complete in 13ms");
  const auto corpus_file = dir.write("corpus.jsonl", corpus);
  const auto report_file = dir.file("report.json");

  const auto run = runScrubproxy("verify --rules '" + rules + "' --corpus '" + corpus_file +
                                 "' --canaries '" + canaries + "' --report '" + report_file + "'");
  CHECK(run.exit_code == 1);
  const auto leaks = leaksOf(readFile(report_file));
  std::map<uint64_t, std::vector<Leak>> by_line;
  for (const auto& leak : leaks) {
    by_line[leak.line].push_back(leak);
  }
  for (size_t i = 0; i < planted().size(); ++i) {
    const auto& p = planted()[i];
    INFO("corpus line " << i + 1 << ": " << p.body << " (expected " << p.form << ")");
    const auto it = by_line.find(i + 1);
    REQUIRE(it != by_line.end());
    bool found = false;
    for (const auto& leak : it->second) {
      found = found || (leak.canary == p.canary && leak.form == p.form);
    }
    CHECK(found);
  }
  CHECK(by_line.count(planted().size() + 1) == 0);
  // The human summary names canaries by number, never by text.
  CHECK(run.out.find("Dženana") == std::string::npos);
  CHECK(run.out.find("result: leak") != std::string::npos);
}

TEST_CASE("verify: the same corpus is clean under the shipped allowlist", "[verify][command]") {
  ScratchDir dir;
  const auto canaries = dir.write("canaries.txt", kCanaries);
  std::string corpus;
  for (const auto& p : planted()) {
    corpus += line(p.body);
  }
  const auto corpus_file = dir.write("corpus.jsonl", corpus);
  const auto run = runScrubproxy("verify --rules openfn-retry-ids --corpus '" + corpus_file +
                                 "' --canaries '" + canaries + "'");
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("result: clean") != std::string::npos);
}

TEST_CASE("verify --expect-keep fails when an id is lost", "[verify][command]") {
  ScratchDir dir;
  const auto canaries = dir.write("canaries.txt", "Dženana Babić\n");
  // Keeps top-level ids only: the ids inside message[] objects are lost, and so are the ids of
  // a line that is dropped whole.
  const auto rules = dir.write("top-only.yaml", "version: 1\nname: top-only\nkeep:\n  - level\n"
                                                "  - path: _id\n    value: '[0-9]+'\n");
  const auto corpus = dir.write("corpus.jsonl",
                                R"({"level":"info","_id":7})"
                                "\n"
                                R"({"level":"info","_id":8,"message":[{"_id":5,"_xform_id":9}]})"
                                "\n"
                                R"({"level":"info","message":[{"_xform_id":9}]})"
                                "\n"
                                R"({"level":"info","message":["{\"_id\":77}"]})"
                                "\n"); // ids inside strings are text
  const auto report_file = dir.file("report.json");
  const auto base = "verify --rules '" + rules + "' --corpus '" + corpus + "' --canaries '" +
                    canaries + "' --report '" + report_file + "'";

  CHECK(runScrubproxy(base).exit_code == 0); // without --expect-keep nothing is checked
  const auto run = runScrubproxy(base + " --expect-keep '_id, _xform_id'");
  CHECK(run.exit_code == 1);
  simdjson::dom::parser parser;
  simdjson::dom::element report;
  const std::string text = readFile(report_file);
  REQUIRE_FALSE(parser.parse(text).get(report));
  CHECK(report["lost_ids_total"].get_uint64().value() == 3);
  CHECK(report["result"].get_string().value() == "lost_ids");
  std::vector<std::tuple<uint64_t, std::string, uint64_t>> lost;
  for (auto entry : report["lost_ids"].get_array()) {
    lost.emplace_back(entry["line"].get_uint64().value(),
                      std::string(entry["key"].get_string().value()),
                      entry["count"].get_uint64().value());
  }
  std::sort(lost.begin(), lost.end());
  const std::vector<std::tuple<uint64_t, std::string, uint64_t>> expected = {
      {2, "_id", 1}, {2, "_xform_id", 1}, {3, "_xform_id", 1}};
  CHECK(lost == expected);
  CHECK(run.out.find("LOST") != std::string::npos);
}

TEST_CASE("verify exit codes: 2 for usage and input errors", "[verify][command]") {
  ScratchDir dir;
  const auto canaries = dir.write("canaries.txt", "Dženana Babić\n");
  const auto corpus = dir.write("corpus.jsonl", "{\"level\":\"info\"}\n");
  const auto ok_args = " --canaries '" + canaries + "' --corpus '" + corpus + "'";

  CHECK(runScrubproxy("verify --rules openfn-retry-ids" + ok_args).exit_code == 0);
  CHECK(runScrubproxy("verify --rules openfn-retry-ids --canaries '" + canaries +
                      "' --corpus /nonexistent/corpus.jsonl")
            .exit_code == 2);
  CHECK(runScrubproxy("verify --rules openfn-retry-ids --canaries /nonexistent --corpus '" +
                      corpus + "'")
            .exit_code == 2);
  CHECK(runScrubproxy("verify --rules openfn-retry-ids --corpus '" + corpus + "'").exit_code == 2);
  CHECK(runScrubproxy("verify --rules openfn-retry-ids" + ok_args + " --bogus").exit_code == 2);
  CHECK(runScrubproxy("verify" + ok_args).exit_code == 2); // rules must be named
  CHECK(runScrubproxy("verify --live --rules openfn-retry-ids" + ok_args).exit_code == 2);

  const auto empty = dir.write("empty.txt", "# nothing\n\n");
  CHECK(runScrubproxy("verify --rules openfn-retry-ids --canaries '" + empty + "' --corpus '" +
                      corpus + "'")
            .exit_code == 2);
  const auto tiny = dir.write("tiny.txt", "ok\n");
  const auto tiny_run = runScrubproxy(
      "verify --rules openfn-retry-ids --canaries '" + tiny + "' --corpus '" + corpus + "'", true);
  CHECK(tiny_run.exit_code == 2);
  CHECK(tiny_run.out.find(tiny + ":1: canary shorter") != std::string::npos);

  const auto bad = dir.write("bad.yaml", "version: 1\nname: bad\nkeep:\n  - path: _id\n"
                                         "    vaule: '[0-9]+'\n");
  const auto bad_run = runScrubproxy("verify --rules '" + bad + "'" + ok_args, true);
  CHECK(bad_run.exit_code == 2);
  CHECK(bad_run.out.find(bad + ":5:5: keep: unknown key 'vaule'") != std::string::npos);
}

TEST_CASE("verify report has the documented fields", "[verify][command]") {
  ScratchDir dir;
  const auto canaries = dir.write("canaries.txt", "Dženana Babić\n+387 61 482 913\n");
  const auto corpus =
      dir.write("corpus.jsonl",
                "{\"level\":\"info\",\"name\":\"JOB\",\"message\":[\"Case for Dženana Babić\","
                "{\"_id\":9448242,\"_xform_id\":7205}],\"time\":\"1795397774154603532\"}\n"
                "\n"
                "not json\n"
                "{\"level\":\"info\",\"name\":\"JOB\",\"message\":[\"call +387 61 482 913\"]}\n"
                "{\"level\":\"info\"");
  const auto report_file = dir.file("report.json");
  const auto run =
      runScrubproxy("verify --rules kobo-redact --corpus '" + corpus + "' --canaries '" + canaries +
                    "' --report '" + report_file + "' --expect-keep _id,_xform_id");
  CHECK(run.exit_code == 1); // kobo-redact masks the phone but cannot know a name in free text
  const std::string text = readFile(report_file);
  simdjson::dom::parser parser;
  simdjson::dom::element r;
  REQUIRE_FALSE(parser.parse(text).get(r));

  CHECK(r["report"].get_string().value() == "scrubproxy-verify");
  CHECK(r["schema"].get_uint64().value() == 1);
  CHECK_FALSE(r["scrubproxy_version"].get_string().value().empty());
  CHECK(r["result"].get_string().value() == "leak");
  CHECK(r["rules"]["name"].get_string().value() == "kobo-redact");
  CHECK(r["rules"]["policy"].get_string().value() == "redact");
  CHECK_FALSE(r["rules"]["fingerprint"].get_string().value().empty());
  size_t files = 0;
  for (auto file : r["rules"]["files"].get_array()) {
    ++files;
    CHECK(file["sha256"].get_string().value().size() == 64);
    CHECK_FALSE(file["file"].get_string().value().empty());
  }
  CHECK(files == 2); // kobo-redact and the pii-detectors it includes
  CHECK(r["canaries"]["count"].get_uint64().value() == 2);
  CHECK(r["canaries"]["patterns"].get_uint64().value() > 10);
  CHECK(r["expect_keep"].get_array().size() == 2);
  CHECK(r["lines_in"].get_uint64().value() == 4); // the empty line is no line
  CHECK(r["lines_out"].get_uint64().value() == 2);
  CHECK(r["dropped"]["invalid_json"].get_uint64().value() == 1);
  CHECK(r["dropped"]["truncated"].get_uint64().value() == 1);
  CHECK(r["corpora"].get_array().size() == 1);
  CHECK(r["corpora"].at(0)["file"].get_string().value() == corpus);
  CHECK(r["corpora"].at(0)["leaks"].get_uint64().value() == 1);
  CHECK(r["fields"]["exempt"].is_uint64());
  CHECK(r["fields"]["unmatched"].is_uint64());
  CHECK(r["fields"]["embedded_json"].is_uint64());
  bool phone_masked = false;
  for (auto hits : r["rule_hits"].get_array()) {
    if (hits["rule"].get_string().value() == "phone_ba") {
      CHECK(hits["kind"].get_string().value() == "detector");
      phone_masked = hits["masked"].get_uint64().value() == 1;
    }
  }
  CHECK(phone_masked);
  CHECK(r["leaks_total"].get_uint64().value() == 1);
  CHECK_FALSE(r["leaks_truncated"].get_bool().value());
  CHECK(r["leaks_by_form"]["raw"].get_uint64().value() == 1);
  const auto leak = r["leaks"].at(0);
  CHECK(leak["corpus"].get_string().value() == corpus);
  CHECK(leak["line"].get_uint64().value() == 1);
  CHECK(leak["canary_id"].get_uint64().value() == 1);
  CHECK(leak["form"].get_string().value() == "raw");
  CHECK(r["lost_ids_total"].get_uint64().value() == 0);
  CHECK(r["lost_ids"].get_array().size() == 0);
  CHECK(r["seconds"].is_double());
  // The report never carries canary text.
  CHECK(text.find("Dženana") == std::string::npos);
  CHECK(text.find("482") == std::string::npos);
}
