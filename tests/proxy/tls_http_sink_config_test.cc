// The TLS and HTTP-sink parts of config/proxy_config: addresses, `tls:` blocks of listeners and
// sinks, `http:` blocks of sinks, and `ack: sink`.

#include <catch2/catch.hpp>

#include "config/proxy_config.h"

using namespace scrub;
using namespace scrub::config;

namespace {

std::string errorOf(const std::string& text) {
  auto loaded = loadConfigFromText(text, "/etc/scrub/proxy.yaml");
  REQUIRE_FALSE(loaded.ok());
  return loaded.error().message;
}

ProxyConfig load(const std::string& text) {
  auto loaded = loadConfigFromText(text, "/etc/scrub/proxy.yaml");
  INFO((loaded.ok() ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  return std::move(loaded).value();
}

const std::string kStdoutSink = "sinks:\n  - name: out\n    address: stdout\n";

} // namespace

TEST_CASE("sink addresses: tls and http(s)") {
  auto tls = parseSinkAddress("tls://logs.example.org:6514");
  REQUIRE(tls.ok());
  CHECK((tls->tls && !tls->http));
  CHECK(tls->url() == "tls://logs.example.org:6514");

  auto https = parseSinkAddress("https://logs.example.org/loki/api/v1/push?tenant=a");
  REQUIRE(https.ok());
  CHECK((https->tls && https->http));
  CHECK(https->port == 443);
  CHECK(https->target == "/loki/api/v1/push?tenant=a");
  CHECK(https->url() == "https://logs.example.org:443/loki/api/v1/push?tenant=a");

  auto http = parseSinkAddress("http://127.0.0.1:9200");
  REQUIRE(http.ok());
  CHECK((http->http && !http->tls));
  CHECK(http->target == "/");
  CHECK(parseSinkAddress("http://[::1]/_bulk")->port == 80);
  CHECK(parseSinkAddress("http://[::1]:8080/_bulk")->url() == "http://[::1]:8080/_bulk");

  CHECK(parseSinkAddress("http://exa mple/").error().message.find("is not a host name") !=
        std::string::npos);
  CHECK(parseSinkAddress("http://h:0/").error().message.find("port from 1") != std::string::npos);
  CHECK(parseSinkAddress("http://h/a b").error().message.find("may not hold spaces") !=
        std::string::npos);
  CHECK_FALSE(parseSinkAddress("tls://h").ok()); // a raw TLS sink has no default port
}

TEST_CASE("listener addresses: tls") {
  auto tls = parseListenAddress("tls://127.0.0.1:6514");
  REQUIRE(tls.ok());
  CHECK((tls->tls && !tls->http));
  CHECK(tls->url() == "tls://127.0.0.1:6514");
  CHECK(parseListenAddress("ftp://x").error().message ==
        "'ftp://x': expected tcp://, tls://, http:// or https://HOST:PORT, or unix:///PATH");
}

TEST_CASE("listener tls block") {
  const auto config = load("version: 1\nlisteners:\n  - listen: https://127.0.0.1:0\n"
                           "    tls:\n      cert_file: certs/server.pem\n"
                           "      key_file: /abs/server.key\n      client_ca_file: ca.pem\n"
                           "      min_version: \"1.3\"\n" +
                           kStdoutSink);
  const auto& tls = config.listeners[0].tls;
  CHECK(tls.cert_file == "/etc/scrub/certs/server.pem"); // relative to the config file
  CHECK(tls.key_file == "/abs/server.key");
  CHECK(tls.client_ca_file == "/etc/scrub/ca.pem");
  CHECK(tls.min_version == "1.3");

  CHECK(errorOf("version: 1\nlisteners:\n  - listen: tls://127.0.0.1:0\n" + kStdoutSink) ==
        "/etc/scrub/proxy.yaml:3:13: listeners: 'listener1' listens with TLS and needs a `tls:` "
        "block with cert_file and key_file");
  CHECK(errorOf("version: 1\nlisteners:\n  - listen: tcp://127.0.0.1:0\n"
                "    tls: {cert_file: a, key_file: b}\n" +
                kStdoutSink) ==
        "/etc/scrub/proxy.yaml:4:10: listeners.tls: only for a tls:// or https:// listener");
  CHECK(errorOf("version: 1\nlisteners:\n  - listen: tls://127.0.0.1:0\n"
                "    tls: {cert_file: a, key_file: b, min_version: \"1.1\"}\n" +
                kStdoutSink) ==
        "/etc/scrub/proxy.yaml:4:51: listeners.tls.min_version: expected 1.2 or 1.3, got '1.1'");
  CHECK(errorOf("version: 1\nlisteners:\n  - listen: tls://127.0.0.1:0\n"
                "    tls: {cert_file: a}\n" +
                kStdoutSink) ==
        "/etc/scrub/proxy.yaml:4:10: listeners.tls: needs `cert_file` and `key_file`");
}

TEST_CASE("a tls listener from --listen needs a config file for its certificate") {
  auto config = load("version: 1\nlisteners:\n  - listen: tcp://127.0.0.1:0\n" + kStdoutSink);
  Overrides overrides;
  overrides.listen = {"tls://127.0.0.1:0"};
  REQUIRE(applyOverrides(config, overrides).ok());
  auto status = validateConfig(config);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message.find("a TLS listener needs a certificate and key") !=
        std::string::npos);
}

TEST_CASE("sink tls and http blocks") {
  const auto config =
      load("version: 1\nlisteners:\n  - listen: http://127.0.0.1:0\n    http: {ack: sink}\n"
           "sinks:\n  - name: loki\n    address: https://loki.example.org/loki/api/v1/push\n"
           "    tls:\n      ca_file: ca.pem\n      cert_file: c.pem\n      key_file: c.key\n"
           "      server_name: loki.internal\n"
           "    http:\n      format: loki\n      batch_records: 500\n      flush_interval: 250ms\n"
           "      request_timeout: 3s\n      gzip: true\n"
           "      headers: {X-Scope-OrgID: tenant-a}\n      labels: {job: runner, env: staging}\n");
  const auto& sink = config.sinks[0];
  CHECK(sink.tls.ca_file == "/etc/scrub/ca.pem");
  CHECK(sink.tls.cert_file == "/etc/scrub/c.pem");
  CHECK(sink.tls.server_name == "loki.internal");
  CHECK_FALSE(sink.tls.insecure_skip_verify);
  CHECK(sink.http.format == HttpSinkFormat::Loki);
  CHECK(formatName(sink.http.format) == "loki");
  CHECK(sink.http.batch_records == 500);
  CHECK(sink.http.flush_interval == std::chrono::milliseconds(250));
  CHECK(sink.http.request_timeout == std::chrono::milliseconds(3000));
  CHECK(sink.http.gzip);
  REQUIRE(sink.http.headers.size() == 1);
  CHECK(sink.http.headers[0] == std::pair<std::string, std::string>{"X-Scope-OrgID", "tenant-a"});
  CHECK(sink.http.labels.size() == 2);
  CHECK(config.listeners[0].http.ack == HttpListenerConfig::Ack::Sink);
  CHECK(validateConfig(config).ok());

  CHECK(errorOf("version: 1\nlisteners:\n  - listen: tcp://127.0.0.1:0\n"
                "sinks:\n  - address: tcp://127.0.0.1:9\n    tls: {}\n") ==
        "/etc/scrub/proxy.yaml:6:10: sinks.tls: only for a tls:// or https:// sink");
  CHECK(errorOf("version: 1\nlisteners:\n  - listen: tcp://127.0.0.1:0\n"
                "sinks:\n  - address: http://127.0.0.1:9/\n    http: {format: gelf}\n") ==
        "/etc/scrub/proxy.yaml:6:20: sinks.http.format: expected ndjson, json_array, "
        "elasticsearch, loki or splunk_hec, got 'gelf'");
  CHECK(errorOf("version: 1\nlisteners:\n  - listen: tcp://127.0.0.1:0\n"
                "sinks:\n  - address: tls://127.0.0.1:9\n    tls: {cert_file: c.pem}\n") ==
        "/etc/scrub/proxy.yaml:6:10: sinks.tls: a client certificate needs both cert_file and "
        "key_file");
  CHECK(errorOf("version: 1\nlisteners:\n  - listen: tcp://127.0.0.1:0\n"
                "sinks:\n  - address: http://127.0.0.1:9/\n    http: {headers: {\"a b\": c}}\n") ==
        "/etc/scrub/proxy.yaml:6:21: sinks.http.headers: 'a b' is not a valid header (name: "
        "letters, digits, '-'; value: one line)");
}

TEST_CASE("ack: sink needs http sinks") {
  auto config = load("version: 1\nlisteners:\n  - listen: http://127.0.0.1:0\n"
                     "    http: {ack: sink}\n" +
                     kStdoutSink);
  auto status = validateConfig(config);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message ==
        "/etc/scrub/proxy.yaml:3:5: listener 'listener1': `ack: sink` needs every sink it feeds "
        "to be http:// or https://, and 'out' is not");
}
