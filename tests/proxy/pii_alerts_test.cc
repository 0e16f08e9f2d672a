// PII-attempt alerts: which detectors fired, the ids taken from the forwarded record, the
// summary per listener and window, the alert's words, and the `alerts:` config block.

#include <catch2/catch.hpp>

#include <map>
#include <memory>

#include "config/proxy_config.h"
#include "filters/line_filter.h"
#include "proxy/alerts/alert_message.h"
#include "proxy/alerts/pii_attempts.h"
#include "rules/rule_loader.h"

using namespace scrub;
using namespace scrub::proxy;

namespace {

rules::RuleSetPtr detectorRules() {
  auto loaded = rules::loadRules({"kobo-redact", "pii-detectors"});
  INFO((loaded.ok() ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  return loaded->rules;
}

} // namespace

TEST_CASE("alerts: record ids come from the forwarded record, at any depth", "[alerts]") {
  CHECK(findRecordIds(R"({"_id":42,"a":{"_xform_id":"aX3b"},"b":[{"_id":7}]})", 10) ==
        std::vector<std::string>{"_id=42", "_xform_id=aX3b", "_id=7"});
  CHECK(findRecordIds(R"({"_id":1,"x":{"_id":2}})", 1) == std::vector<std::string>{"_id=1"});
  CHECK(findRecordIds("not json", 10).empty());
  CHECK(findRecordIds("", 10).empty());
  // Nothing that does not look like a system id: no spaces, no long text, no containers.
  CHECK(findRecordIds(R"({"_id":"two words","_xform_id":{"a":1}})", 10).empty());
  CHECK(findRecordIds(R"({"_id":")" + std::string(65, 'a') + "\"}", 10).empty());
}

TEST_CASE("alerts: detector hits per record from the filter's counters", "[alerts]") {
  auto rules = detectorRules();
  filters::LineFilter filter;
  filters::FilterCounters counters;
  DetectorHitWatch watch;
  std::vector<std::pair<int, uint64_t>> fired;
  std::string out;

  filter.filterCopy(R"({"_id":1,"note":"all fine"})", *rules, out, counters);
  CHECK_FALSE(watch.changed(counters, fired));

  filter.filterCopy(R"({"_id":2,"note":"call +387 61 482 913 or mail amra@example.org"})", *rules,
                    out, counters);
  REQUIRE(watch.changed(counters, fired));
  std::map<std::string, uint64_t> names;
  for (const auto& [d, n] : fired) {
    names[rules->detectors[d].name] += n;
  }
  CHECK(names.count("email") == 1);
  CHECK(names.size() >= 2);
  CHECK_FALSE(watch.changed(counters, fired)); // seen now

  counters.sizeFor(*rules); // a reload starts the counters again from zero
  watch.reset();
  filter.filterCopy(R"({"note":"amra@example.org"})", *rules, out, counters);
  REQUIRE(watch.changed(counters, fired));
  CHECK(fired.size() == 1);
  CHECK(fired[0].second == 1);
}

TEST_CASE("alerts: one summary per listener and window, without values", "[alerts]") {
  auto rules = detectorRules();
  int email = -1;
  for (size_t d = 0; d < rules->detectors.size(); ++d) {
    if (rules->detectors[d].name == "email") {
      email = static_cast<int>(d);
    }
  }
  REQUIRE(email >= 0);
  PiiAttemptTracker tracker({"runners", "webhooks"}, 2);
  tracker.note(0, *rules, {{email, 2}}, R"({"_id":11,"_xform_id":"f1","note":"[email]"})");
  tracker.note(0, *rules, {{email, 1}}, R"({"_id":11})");
  tracker.note(0, *rules, {{email, 1}}, R"({"_id":12})");
  tracker.note(0, *rules, {{email, 1}}, ""); // dropped record: counted, no id
  auto summaries = tracker.drain();
  REQUIRE(summaries.size() == 1);
  const auto& s = summaries[0];
  CHECK(s.listener == "runners");
  CHECK(s.records == 4);
  CHECK(s.hits_by_rule == std::map<std::string, uint64_t>{{"email", 5}});
  CHECK(s.ids == std::vector<std::string>{"_id=11", "_xform_id=f1"});
  CHECK(s.ids_not_shown == 1);
  CHECK(tracker.drain().empty()); // the window starts again

  // /metrics totals outlive the window: records noted and alerts drained since start.
  tracker.note(0, *rules, {{email, 1}}, "");
  tracker.note(1, *rules, {{email, 1}}, "");
  CHECK(tracker.drain().size() == 2);
  CHECK(tracker.totals(0).records == 5);
  CHECK(tracker.totals(0).alerts == 2);
  CHECK(tracker.totals(1).records == 1);
  CHECK(tracker.totals(1).alerts == 1);
  CHECK(tracker.totals(2).records == 0); // no such listener

  const std::string text = alertText(s, std::chrono::minutes(5));
  CHECK(text == "PII attempt on listener 'runners': 4 records in the last 5m held data the rules "
                "had to remove or mask; detectors: email x5; ids: _id=11 _xform_id=f1 (+1 more)");
  const std::string json = alertJson(s, std::chrono::minutes(5));
  CHECK(json.starts_with("{\"text\":\"PII attempt on listener 'runners'"));
  CHECK(
      json.find(R"("detectors":{"email":5},"ids":["_id=11","_xform_id=f1"],"ids_not_shown":1})") !=
      std::string::npos);
  CHECK(json.find("[email]") == std::string::npos);
}

TEST_CASE("alerts: config block", "[alerts][config]") {
  const std::string base = "version: 1\nlisteners:\n  - listen: tcp://127.0.0.1:0\n"
                           "sinks:\n  - address: stdout\n";
  config::LoadOptions options;
  options.get_env = [](const char* name) -> const char* {
    const std::string n(name);
    if (n == "HOOK") {
      return "https://hooks.example.org/services/T000/B000/XXXXXXXX";
    }
    if (n == "LOCAL_HOOK") {
      return "http://127.0.0.1:9/hook";
    }
    if (n == "PLAIN_HOOK") {
      return "http://hooks.example.org/x";
    }
    return nullptr;
  };
  auto loaded = config::loadConfigFromText(
      base + "alerts:\n  webhook_url: ${env:HOOK}\n  window: 1m\n  max_ids: 5\n", "p.yaml",
      options);
  REQUIRE(loaded.ok());
  CHECK(loaded->alerts.webhook_url.starts_with("https://hooks.example.org/"));
  CHECK(loaded->alerts.window == std::chrono::minutes(1));
  CHECK(loaded->alerts.max_ids == 5);
  CHECK(config::loadConfigFromText(base + "alerts:\n  webhook_url: ${env:LOCAL_HOOK}\n", "p.yaml",
                                   options)
            .ok());

  auto error = [&](const std::string& block) {
    auto bad = config::loadConfigFromText(base + block, "p.yaml", options);
    REQUIRE_FALSE(bad.ok());
    // The URL is a credential: never in a message.
    CHECK(bad.error().message.find("hooks.example.org") == std::string::npos);
    return bad.error().message;
  };
  CHECK(error("alerts:\n  webhook_url: https://hooks.example.org/services/T000/B000/X\n")
            .find("a secret must be a ${env:NAME} or ${file:PATH} reference") != std::string::npos);
  CHECK(error("alerts:\n  webhook_url: ${env:PLAIN_HOOK}\n") ==
        "p.yaml:7:16: alerts.webhook_url: must be https:// (plain http:// only to loopback)");
  CHECK(error("alerts:\n  window: 10ms\n") == "p.yaml:7:11: alerts.window: at least 1s");
}
