// The checks of `scrubproxy doctor` (proxy/doctor/doctor_checks): each fires on a bad deployment
// and stays quiet on a good one. Configs are inline YAML, rules inline or built by hand (the
// loader refuses some bad ones, which the checks still guard against), facts are plain structs:
// no root, no real files.

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "config/default_config.h"
#include "config/proxy_config.h"
#include "proxy/doctor/doctor_checks.h"
#include "proxy/doctor/doctor_report.h"
#include "rules/rule_loader.h"

using namespace scrub;
using namespace scrub::doctor;

namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef";

config::LoadOptions env(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  config::LoadOptions options;
  options.get_env = [shared](const char* name) -> const char* {
    const auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
  return options;
}

config::ProxyConfig load(const std::string& yaml, const config::LoadOptions& options = {}) {
  auto loaded = config::loadConfigFromText(yaml, "/etc/scrubproxy/proxy.yaml", options);
  INFO((loaded.ok() ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  return std::move(loaded).value();
}

std::string withListener(const std::string& listener_block) {
  return "version: 1\nlisteners:\n" + listener_block +
         "sinks:\n  - name: out\n    address: stdout\n";
}

std::string withSink(const std::string& sink_block) {
  return "version: 1\nlisteners:\n  - listen: tcp://127.0.0.1:0\nsinks:\n" + sink_block;
}

std::multiset<std::string> ids(const std::vector<Finding>& findings) {
  std::multiset<std::string> out;
  for (const auto& f : findings) {
    out.insert(f.id);
  }
  return out;
}

// By value: callers pass temporaries.
Finding only(const std::vector<Finding>& findings) {
  REQUIRE(findings.size() == 1);
  return findings[0];
}

rules::RuleSetPtr rulesFrom(const std::string& yaml) {
  auto loaded = rules::loadRulesFromText(yaml, "/etc/scrubproxy/rules/r.yaml");
  INFO((loaded.ok() ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  return loaded->rules;
}

std::vector<Finding> ruleFindings(const rules::RuleSetPtr& rules) {
  std::vector<Finding> out;
  checkRules({{{"runners"}, rules}}, out);
  return out;
}

FileFacts file(const std::string& path, uint32_t mode, FileFacts::Role role) {
  FileFacts facts;
  facts.role = role;
  facts.path = path;
  facts.exists = true;
  facts.mode = mode;
  facts.dir_known = true;
  facts.dir_mode = 0755;
  return facts;
}

std::vector<Finding> fileFindings(const FileFacts& facts) {
  std::vector<Finding> out;
  checkFiles({facts}, out);
  return out;
}

ProcessFacts goodProcess() {
  ProcessFacts p;
  p.euid = 1000;
  p.core_soft_limit = 0;
  p.core_hard_limit = 0;
  p.dumpable = 1;
  p.core_pattern = "core";
  return p;
}

} // namespace

TEST_CASE("doctor: the embedded default config and rules are clean", "[doctor]") {
  auto config = load(std::string(config::defaultConfigText()));
  auto rules = rules::loadRules(config.listeners[0].rules);
  REQUIRE(rules.ok());
  DoctorInput input;
  input.config = &config;
  input.rule_sets = {{{"runners"}, rules->rules}};
  input.process = goodProcess();
  input.files = {file("/etc/scrubproxy/proxy.yaml", 0644, FileFacts::Role::Config)};
  CHECK(runChecks(input).empty());
}

TEST_CASE("doctor: public listeners need TLS and authentication", "[doctor]") {
  std::vector<Finding> out;
  SECTION("plain tcp on all interfaces: both") {
    checkListeners(load(withListener("  - name: runners\n    listen: tcp://0.0.0.0:5170\n"
                                     "    allow_public: true\n")),
                   out);
    CHECK(ids(out) ==
          std::multiset<std::string>{"listener-public-no-tls", "listener-public-no-auth"});
    CHECK(out[0].severity == Severity::Error);
    CHECK(out[0].message ==
          "/etc/scrubproxy/proxy.yaml:4:13: listener 'runners' (tcp://0.0.0.0:5170) is reachable "
          "from the network without TLS");
    CHECK(out[0].checklist.seed == "003_5cf825bcf5d69b6c.txt");
    CHECK(out[1].checklist.seed == "000_33300e7848f53676.txt");
    CHECK(out[1].checklist.item == "6");
  }
  SECTION("http with an API key but no TLS: TLS only") {
    checkListeners(load(withListener("  - listen: http://10.1.2.3:8088\n    allow_public: true\n"
                                     "    http:\n      api_keys: [{id: ci, key: '${env:K}'}]\n"),
                        env({{"K", kKey}})),
                   out);
    CHECK(ids(out) == std::multiset<std::string>{"listener-public-no-tls"});
  }
  SECTION("tls without client certificates: authentication only") {
    checkListeners(load(withListener("  - listen: tls://0.0.0.0:6514\n    allow_public: true\n"
                                     "    tls: {cert_file: c.pem, key_file: c.key}\n")),
                   out);
    CHECK(ids(out) == std::multiset<std::string>{"listener-public-no-auth"});
  }
  SECTION("tls with client certificates: clean") {
    checkListeners(load(withListener("  - listen: tls://0.0.0.0:6514\n    allow_public: true\n"
                                     "    tls: {cert_file: c.pem, key_file: c.key, "
                                     "client_ca_file: ca.pem}\n")),
                   out);
    CHECK(out.empty());
  }
  SECTION("https with basic users: clean") {
    checkListeners(
        load(withListener("  - listen: https://0.0.0.0:8443\n    allow_public: true\n"
                          "    tls: {cert_file: c.pem, key_file: c.key}\n"
                          "    http:\n      basic_users: [{user: kobo, password: '${env:P}'}]\n"),
             env({{"P", "correct horse battery staple"}})),
        out);
    CHECK(out.empty());
  }
  SECTION("loopback and unix sockets: clean whatever else") {
    checkListeners(load(withListener("  - listen: tcp://127.0.0.1:5170\n"
                                     "  - listen: http://[::1]:8088\n"
                                     "  - listen: unix:///run/scrubproxy.sock\n")),
                   out);
    CHECK(out.empty());
  }
}

TEST_CASE("doctor: API keys and passwords too short or weak", "[doctor]") {
  // The loader refuses short secrets already; a config built another way must still be caught.
  config::ProxyConfig config = load(withListener("  - listen: http://127.0.0.1:0\n"));
  auto& http = config.listeners[0].http;
  std::vector<Finding> out;
  SECTION("long random secrets: clean") {
    http.api_keys = {{"ci", kKey}};
    http.basic_users = {{"kobo", "Xq7-vR2m-9LpZ"}};
    checkCredentials(config, out);
    CHECK(out.empty());
  }
  SECTION("short: errors") {
    http.api_keys = {{"ci", "short-key"}};
    http.basic_users = {{"kobo", "hunter2"}};
    checkCredentials(config, out);
    CHECK(ids(out) == std::multiset<std::string>{"api-key-short", "password-short"});
    CHECK(out[0].severity == Severity::Error);
    // Never the secret itself.
    CHECK(out[0].message.find("short-key") == std::string::npos);
    CHECK(out[1].message.find("hunter2") == std::string::npos);
  }
  SECTION("long enough but weak: warnings") {
    http.api_keys = {{"ci", std::string(40, 'a')}};
    http.basic_users = {{"kobo", "kobo-password-1"}};
    checkCredentials(config, out);
    CHECK(ids(out) == std::multiset<std::string>{"api-key-weak", "password-weak"});
    CHECK(out[0].severity == Severity::Warning);
  }
}

TEST_CASE("doctor: credential-like sink headers written in the config file", "[doctor]") {
  const auto sink = [](const std::string& headers) {
    return withSink("  - name: loki\n    address: https://loki.example.org/loki/api/v1/push\n"
                    "    http:\n      headers: {" +
                    headers + "}\n");
  };
  std::vector<Finding> out;
  SECTION("Authorization written inline: error") {
    checkCredentials(load(sink("Authorization: 'Bearer abc', X-Scope-OrgID: tenant-a")), out);
    const auto f = only(out);
    CHECK(f.id == "secret-inline");
    CHECK(f.severity == Severity::Error);
    CHECK(f.message.find("'Authorization'") != std::string::npos);
    CHECK(f.message.find("abc") == std::string::npos);
  }
  SECTION("a token header written inline: error") {
    checkCredentials(load(sink("X-Auth-Token: abc")), out);
    CHECK(only(out).id == "secret-inline");
  }
  SECTION("from ${env:} or ${file:}: clean") {
    checkCredentials(
        load(sink("Authorization: 'Bearer ${env:T}', X-API-Key: '${env:T}'"), env({{"T", kKey}})),
        out);
    CHECK(out.empty());
  }
}

TEST_CASE("doctor: the config loader remembers which header values were literal", "[doctor]") {
  auto config = load(withSink("  - address: https://h.example.org/\n    http:\n      headers: "
                              "{A: x, B: '${env:T}', C: 'Bearer ${env:T}'}\n"),
                     env({{"T", "t"}}));
  CHECK(config.sinks[0].http.literal_headers == std::vector<std::string>{"A"});
  CHECK(config.sinks[0].http.headers[2].second == "Bearer t");
}

TEST_CASE("doctor: header names that carry credentials", "[doctor]") {
  for (const char* name : {"Authorization", "proxy-authorization", "Cookie", "X-API-Key",
                           "X-Auth-Token", "Splunk-Token", "X-Secret", "X-Password"}) {
    INFO(name);
    CHECK(isCredentialHeader(name));
  }
  for (const char* name : {"X-Scope-OrgID", "Content-Type", "X-Tenant", "User-Agent"}) {
    INFO(name);
    CHECK_FALSE(isCredentialHeader(name));
  }
}

TEST_CASE("doctor: sinks to other hosts need verified TLS", "[doctor]") {
  std::vector<Finding> out;
  SECTION("http:// to another host") {
    checkSinks(load(withSink("  - name: es\n    address: http://es.example.org:9200/_bulk\n")),
               out);
    CHECK(only(out).id == "sink-plain-http");
  }
  SECTION("tcp:// to another host") {
    checkSinks(load(withSink("  - name: syslog\n    address: tcp://10.0.0.5:514\n")), out);
    CHECK(only(out).id == "sink-plain-tcp");
  }
  SECTION("tls:// without verification") {
    checkSinks(load(withSink("  - name: syslog\n    address: tls://logs.example.org:6514\n"
                             "    tls: {insecure_skip_verify: true}\n")),
               out);
    CHECK(only(out).id == "sink-tls-unverified");
  }
  SECTION("verified TLS, loopback and stdout: clean") {
    checkSinks(load(withSink("  - name: a\n    address: https://loki.example.org/push\n"
                             "  - name: b\n    address: tls://logs.example.org:6514\n"
                             "  - name: c\n    address: tcp://127.0.0.1:514\n"
                             "  - name: d\n    address: http://localhost:3100/push\n"
                             "  - name: e\n    address: tls://127.0.0.1:6514\n"
                             "    tls: {insecure_skip_verify: true}\n"
                             "  - name: f\n    address: stdout\n")),
               out);
    CHECK(out.empty());
  }
}

TEST_CASE("doctor: the admin endpoint on a public address", "[doctor]") {
  std::vector<Finding> out;
  SECTION("default (127.0.0.1:9464), loopback or off: clean") {
    checkAdmin(load(withSink("  - address: stdout\n")), out);
    checkAdmin(load("version: 1\nadmin: {listen: '[::1]:9464'}\n" +
                    withSink("  - address: stdout\n").substr(11)),
               out);
    checkAdmin(
        load("version: 1\nadmin: {listen: 'off'}\n" + withSink("  - address: stdout\n").substr(11)),
        out);
    CHECK(out.empty());
  }
  SECTION("all interfaces: error") {
    checkAdmin(load("version: 1\nadmin: {listen: '0.0.0.0:9464', allow_public: true}\n" +
                    withSink("  - address: stdout\n").substr(11)),
               out);
    const auto f = only(out);
    CHECK(f.id == "admin-public");
    CHECK(f.severity == Severity::Error);
    CHECK(f.message.starts_with("/etc/scrubproxy/proxy.yaml:2:17: the admin endpoint "
                                "(http://0.0.0.0:9464) is reachable from the network"));
    CHECK(f.checklist.item == "Verify firewall hides all ports from the public internet");
  }
}

TEST_CASE("doctor: hash without a key", "[doctor]") {
  // The loader refuses this; a rule set assembled otherwise must still be caught.
  auto rules = std::make_shared<rules::RuleSet>();
  rules->name = "hand-made";
  rules->default_action = rules::Action::Remove;
  rules->detectors.emplace_back();
  rules->detectors.back().name = "email";
  CHECK(ruleFindings(rules).empty());

  rules->detectors.back().action = rules::Action::Hash;
  const auto f = only(ruleFindings(rules));
  CHECK(f.id == "hash-without-key");
  CHECK(f.severity == Severity::Error);

  rules->hash_key = rules::HashKey{"k1", kKey};
  CHECK(ruleFindings(rules).empty());
}

TEST_CASE("doctor: free-text fields kept without a value contract", "[doctor]") {
  SECTION("message, note and a Kobo group/full_name without contracts") {
    const auto out = ruleFindings(rulesFrom("version: 1\nname: loose\nkeep:\n"
                                            "  - path: _id\n    value: '[0-9]+'\n"
                                            "  - path: 'message[]'\n"
                                            "  - path: case.note\n"
                                            "  - path: child/full_name\n"
                                            "  - path: _xform_id\n"));
    CHECK(ids(out) ==
          std::multiset<std::string>{"keep-free-text", "keep-free-text", "keep-free-text"});
    INFO(out[0].message);
    CHECK(out[0].message.starts_with("/etc/scrubproxy/rules/r.yaml:6:11: rules 'loose' (listener "
                                     "'runners'): keep 'message[]' has no value contract"));
    CHECK(out[0].checklist.item == "4");
  }
  SECTION("with contracts, or ids without: clean") {
    const auto out = ruleFindings(rulesFrom("version: 1\nname: tight\nkeep:\n"
                                            "  - path: message\n    value: 'Finished in [0-9]+ms'\n"
                                            "  - path: name\n    value: '(JOB|R/T)'\n"
                                            "  - path: _xform_id\n"));
    CHECK(out.empty());
  }
  SECTION("every shipped pack passes") {
    for (const char* pack : {"openfn-retry-ids", "kobo-redact", "pii-detectors"}) {
      INFO(pack);
      auto loaded = rules::loadRules({pack});
      REQUIRE(loaded.ok());
      CHECK(ruleFindings(loaded->rules).empty());
    }
  }
  CHECK(isFreeTextKey("Description"));
  CHECK(isFreeTextKey("group_x/comment"));
  CHECK(isFreeTextKey("first_name"));
  CHECK_FALSE(isFreeTextKey("_id"));
  CHECK_FALSE(isFreeTextKey("level"));
  CHECK_FALSE(isFreeTextKey(""));
}

TEST_CASE("doctor: config, rules and key files others can write or read", "[doctor]") {
  using Role = FileFacts::Role;
  SECTION("0644 in a 0755 folder: clean") {
    CHECK(fileFindings(file("/etc/scrubproxy/proxy.yaml", 0644, Role::Config)).empty());
    CHECK(fileFindings(file("/etc/scrubproxy/tls.key", 0600, Role::TlsKey)).empty());
  }
  SECTION("world-writable: error") {
    const auto f = only(fileFindings(file("/etc/scrubproxy/proxy.yaml", 0666, Role::Config)));
    CHECK(f.id == "file-writable-by-others");
    CHECK(f.severity == Severity::Error);
    CHECK(f.message == "config file /etc/scrubproxy/proxy.yaml is writable by every user (mode "
                       "0666)");
    CHECK(f.checklist.item == "14");
  }
  SECTION("group-writable: warning") {
    const auto f = only(fileFindings(file("/etc/scrubproxy/r.yaml", 0664, Role::Rules)));
    CHECK(f.id == "file-writable-by-group");
    CHECK(f.severity == Severity::Warning);
  }
  SECTION("on a read-only mount (a ConfigMap): the mode does not matter") {
    auto facts = file("/etc/scrubproxy/rules/r.yaml", 0666, Role::Rules);
    facts.read_only_fs = true;
    CHECK(fileFindings(facts).empty());
  }
  SECTION("a folder anyone can write, unless sticky") {
    auto facts = file("/srv/drop/r.yaml", 0644, Role::Rules);
    facts.dir_mode = 0777;
    CHECK(only(fileFindings(facts)).id == "dir-writable-by-others");
    facts.dir_mode = 01777;
    CHECK(fileFindings(facts).empty());
  }
  SECTION("a TLS key others can read") {
    CHECK(only(fileFindings(file("/etc/scrubproxy/tls.key", 0644, Role::TlsKey))).id ==
          "tls-key-readable");
  }
  SECTION("missing files are the loader's business") {
    auto facts = file("/nope", 0666, Role::Config);
    facts.exists = false;
    CHECK(fileFindings(facts).empty());
  }
}

TEST_CASE("doctor: root and core dumps", "[doctor]") {
  std::vector<Finding> out;
  SECTION("non-root, no core limit: clean") {
    checkProcess(goodProcess(), out);
    CHECK(out.empty());
  }
  SECTION("root: warning") {
    auto p = goodProcess();
    p.euid = 0;
    checkProcess(p, out);
    CHECK(only(out).id == "running-as-root");
    CHECK(out[0].severity == Severity::Warning);
  }
  SECTION("RLIMIT_CORE unlimited: info, saying run turns them off") {
    auto p = goodProcess();
    p.core_soft_limit = kUnlimited;
    checkProcess(p, out);
    const auto f = only(out);
    CHECK(f.id == "core-dumps-possible");
    CHECK(f.severity == Severity::Info);
    CHECK(f.message.find("RLIMIT_CORE unlimited") != std::string::npos);
    CHECK(f.message.find("`scrubproxy run` turns them off itself") != std::string::npos);
  }
  SECTION("a piped core_pattern ignores RLIMIT_CORE 0") {
    auto p = goodProcess();
    p.core_pattern = "|/lib/systemd/systemd-coredump %P";
    checkProcess(p, out);
    CHECK(only(out).id == "core-dumps-possible");
  }
  SECTION("not dumpable: clean") {
    auto p = goodProcess();
    p.core_soft_limit = kUnlimited;
    p.dumpable = 0;
    checkProcess(p, out);
    CHECK(out.empty());
  }
}

TEST_CASE("doctor: certificates expired, not yet valid, expiring or unreadable", "[doctor]") {
  constexpr int64_t kDay = 24 * 3600;
  constexpr int64_t now = 1'800'000'000;
  auto cert = [&](int64_t from_days, int64_t to_days) {
    return CertificateFacts{
        "/etc/scrubproxy/tls/server.crt", "listener 'runners'", true,
        now + from_days * kDay,           now + to_days * kDay, "/CN=logs.example.org"};
  };
  std::vector<Finding> out;
  SECTION("valid for months: clean") {
    checkCertificates({cert(-30, 60)}, now, out);
    CHECK(out.empty());
  }
  SECTION("expired: error, with how long ago") {
    checkCertificates({cert(-90, -3)}, now, out);
    const auto f = only(out);
    CHECK(f.id == "tls-cert-expired");
    CHECK(f.severity == Severity::Error);
    CHECK(f.checklist.item == "Your SSL certificate should be valid.");
    CHECK(f.message == "the certificate /etc/scrubproxy/tls/server.crt of listener 'runners' "
                       "(/CN=logs.example.org) expired 3 days ago: peers that verify it refuse "
                       "the connection");
  }
  SECTION("the second it ends counts as expired") {
    checkCertificates({cert(-90, 0)}, now, out);
    CHECK(only(out).id == "tls-cert-expired");
  }
  SECTION("not valid yet: error") {
    checkCertificates({cert(2, 90)}, now, out);
    CHECK(only(out).id == "tls-cert-not-yet-valid");
    CHECK(out[0].severity == Severity::Error);
  }
  SECTION("ends within 14 days: warning") {
    checkCertificates({cert(-80, 10)}, now, out);
    const auto f = only(out);
    CHECK(f.id == "tls-cert-expiring");
    CHECK(f.severity == Severity::Warning);
    CHECK(f.message.find("expires in 10 days") != std::string::npos);
  }
  SECTION("ends in exactly 14 days: clean") {
    checkCertificates({cert(-80, 14)}, now, out);
    CHECK(out.empty());
  }
  SECTION("not a PEM certificate: error") {
    CertificateFacts unreadable{
        "/etc/scrubproxy/tls/client.crt", "sink 'central'", false, 0, 0, ""};
    checkCertificates({unreadable}, now, out);
    CHECK(only(out).id == "tls-cert-unreadable");
    CHECK(out[0].message.starts_with("the certificate /etc/scrubproxy/tls/client.crt of sink "
                                     "'central' cannot be read"));
  }
}

TEST_CASE("doctor: findings sorted by severity; text and JSON reports", "[doctor]") {
  auto config = load(withListener("  - listen: tcp://0.0.0.0:5170\n    allow_public: true\n"));
  DoctorInput input;
  input.config = &config;
  input.process = goodProcess();
  input.process.euid = 0;
  input.process.core_soft_limit = 4096;
  const auto findings = runChecks(input);
  REQUIRE(findings.size() == 4);
  CHECK(findings[0].severity == Severity::Error);
  CHECK(findings[1].severity == Severity::Error);
  CHECK(findings[2].id == "running-as-root");
  CHECK(findings[3].id == "core-dumps-possible");
  CHECK(hasErrors(findings));
  CHECK_FALSE(hasErrors({findings[2], findings[3]}));

  const std::string text = renderText(findings);
  CHECK(text.starts_with("error    listener-public-no-tls   /etc/scrubproxy/proxy.yaml:3:13: "));
  CHECK(text.find("\n         checklist: OpenCRVS: Setup DNS & TLS (HTTPS) "
                  "[seeds/003_5cf825bcf5d69b6c.txt]\n") != std::string::npos);
  CHECK(text.ends_with("\ndoctor: 2 errors, 1 warning, 1 info\n"));

  const std::string json = renderJson({findings[2]});
  CHECK(json.starts_with("{\"findings\":[{\"id\":\"running-as-root\",\"severity\":\"warning\","));
  CHECK(json.find("\"checklist\":{\"seed\":\"000_33300e7848f53676.txt\",\"item\":\"5\",") !=
        std::string::npos);
  CHECK(json.ends_with("],\"errors\":0,\"warnings\":1,\"infos\":0}\n"));
  CHECK(renderText({}) == "doctor: 0 errors, 0 warnings, 0 infos\n");
}
