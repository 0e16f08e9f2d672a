// config/proxy_config: the schema, errors with positions, ${env}/${file} references, the
// embedded default against the documented example, and the flags that override a file.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "config/default_config.h"
#include "config/proxy_config.h"
#include "proxy/cli/run_options.h"

using namespace scrub;
using namespace scrub::config;

namespace {

LoadOptions fakeEnv(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  LoadOptions options;
  options.get_env = [shared](const char* name) -> const char* {
    const auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
  return options;
}

std::string errorOf(std::string_view text, const LoadOptions& options = {}) {
  auto loaded = loadConfigFromText(text, "proxy.yaml", options);
  REQUIRE_FALSE(loaded.ok());
  return loaded.error().message;
}

constexpr const char* kMinimal = R"(version: 1
listeners:
  - listen: tcp://127.0.0.1:0
sinks:
  - name: out
    address: stdout
)";

std::filesystem::path tempDir() {
  char pattern[] = "/tmp/scrub-config-test-XXXXXX";
  REQUIRE(mkdtemp(pattern) != nullptr);
  return pattern;
}

} // namespace

TEST_CASE("the embedded default is the documented example, byte for byte, and it loads",
          "[config]") {
  std::ifstream in(std::filesystem::path(SCRUB_SOURCE_DIR) / "config/scrubproxy.yaml",
                   std::ios::binary);
  REQUIRE(in);
  std::stringstream example;
  example << in.rdbuf();
  CHECK(example.str() == defaultConfigText());

  auto loaded = loadConfigFromText(defaultConfigText(), kDefaultConfigName);
  REQUIRE(loaded.ok());
  const ProxyConfig& config = *loaded;
  REQUIRE(config.listeners.size() == 2); // JSON lines over TCP, and HTTP POST (DESIGN.md)
  CHECK(config.listeners[0].address.url() == "tcp://127.0.0.1:5170");
  CHECK(config.listeners[1].address.url() == "http://127.0.0.1:8088");
  for (const auto& listener : config.listeners) {
    CHECK(listener.rules == std::vector<std::string>{"openfn-retry-ids"});
    CHECK(listener.sinks == std::vector<std::string>{"stdout"});
    CHECK_FALSE(listener.allow_public);
    CHECK_FALSE(listener.address.tls);
  }
  REQUIRE(config.sinks.size() == 1);
  CHECK(config.sinks[0].address.kind == Address::Kind::Stdout);
  CHECK(config.sinks[0].max_buffer_bytes == 64u << 20);
  CHECK(config.sinks[0].high_watermark_percent == 75);
  CHECK(config.sinks[0].low_watermark_percent == 25);
  CHECK(config.limits.max_line_bytes == 1u << 20);
  CHECK(config.limits.idle_timeout == std::chrono::minutes(5));
  CHECK(config.limits.shutdown_timeout == std::chrono::seconds(10));
  CHECK(config.workers == 0);
  CHECK(validateConfig(config).ok());

  // And the same file loads from disk.
  CHECK(loadConfig(std::string(SCRUB_SOURCE_DIR) + "/config/scrubproxy.yaml").ok());
}

TEST_CASE("a full config loads every key", "[config]") {
  auto loaded = loadConfigFromText(R"(version: 1
workers: 3
log:
  level: debug
  format: json
  stats_interval: 0
limits:
  max_line_bytes: 64KiB
  max_connections: 50
  idle_timeout: 30s
  shutdown_timeout: 1500ms
listeners:
  - name: tcp-in
    listen: tcp://[::1]:7000
    rules: [pii-detectors, openfn-retry-ids]
    sinks: [syslog, out]
  - name: sock
    listen: unix:///run/scrub.sock
    rules: kobo-redact
sinks:
  - name: syslog
    address: tcp://logs.internal:514
    max_buffer_bytes: 8MiB
    high_watermark: 60%
    low_watermark: 10%
    batch_bytes: 128KiB
    reconnect_min: 50ms
    reconnect_max: 2s
    connect_timeout: 1s
  - name: out
    address: stdout
)",
                                   "full.yaml");
  REQUIRE(loaded.ok());
  const ProxyConfig& c = *loaded;
  CHECK(c.workers == 3);
  CHECK(c.log.level == "debug");
  CHECK(c.log.format == LogFormat::Json);
  CHECK(c.log.stats_interval.count() == 0);
  CHECK(c.limits.max_line_bytes == 64u << 10);
  CHECK(c.limits.max_connections == 50);
  CHECK(c.limits.idle_timeout == std::chrono::seconds(30));
  CHECK(c.limits.shutdown_timeout == std::chrono::milliseconds(1500));
  REQUIRE(c.listeners.size() == 2);
  CHECK(c.listeners[0].address.url() == "tcp://[::1]:7000");
  CHECK(c.listeners[0].rules == std::vector<std::string>{"pii-detectors", "openfn-retry-ids"});
  CHECK(c.listeners[1].address.kind == Address::Kind::Unix);
  CHECK(c.listeners[1].address.path == "/run/scrub.sock");
  CHECK(c.listeners[1].rules == std::vector<std::string>{"kobo-redact"});
  // No `sinks:` on a listener: it feeds every sink.
  CHECK(c.listeners[1].sinks == std::vector<std::string>{"syslog", "out"});
  const SinkConfig& syslog = c.sinks[0];
  CHECK(syslog.address.url() == "tcp://logs.internal:514");
  CHECK(syslog.max_buffer_bytes == 8u << 20);
  CHECK(syslog.high_watermark_percent == 60);
  CHECK(syslog.low_watermark_percent == 10);
  CHECK(syslog.batch_bytes == 128u << 10);
  CHECK(syslog.reconnect_min == std::chrono::milliseconds(50));
  CHECK(syslog.reconnect_max == std::chrono::seconds(2));
  CHECK(syslog.connect_timeout == std::chrono::seconds(1));
  CHECK(validateConfig(c).ok());
}

TEST_CASE("config errors carry file:line:col", "[config]") {
  SECTION("an unknown top-level key, with a hint") {
    CHECK(errorOf("version: 1\nlistner: []\n") ==
          "proxy.yaml:2:1: unknown key 'listner' (did you mean 'listeners'?)");
  }
  SECTION("an unknown key in a sink") {
    CHECK(errorOf(std::string(kMinimal) + "    max_bufer_bytes: 1MiB\n") ==
          "proxy.yaml:7:5: sinks: unknown key 'max_bufer_bytes' (did you mean "
          "'max_buffer_bytes'?)");
  }
  SECTION("an unknown key in limits") {
    CHECK(errorOf(std::string(kMinimal) + "limits:\n  idle: 5s\n") ==
          "proxy.yaml:8:3: limits: unknown key 'idle'");
  }
  SECTION("version") {
    CHECK(errorOf("listeners: []\n") == "proxy.yaml:1:1: missing `version: 1`");
    CHECK(errorOf("version: 2\n") == "proxy.yaml:1:10: version: only version 1 is understood");
  }
  SECTION("YAML syntax") {
    CHECK(errorOf("version: 1\nlisteners: [\n").starts_with("proxy.yaml:3:1: YAML: "));
  }
  SECTION("a bad listen address") {
    CHECK(errorOf("version: 1\nlisteners:\n  - listen: udp://127.0.0.1:80\nsinks:\n  - "
                  "address: stdout\n") ==
          "proxy.yaml:3:13: listeners.listen: 'udp://127.0.0.1:80': expected tcp://, tls://, "
          "http:// or https://HOST:PORT, or unix:///PATH");
    CHECK(errorOf("version: 1\nlisteners:\n  - listen: tcp://127.0.0.1:70000\nsinks:\n  - "
                  "address: stdout\n") ==
          "proxy.yaml:3:13: listeners.listen: 'tcp://127.0.0.1:70000': the port must be a "
          "number from 0 to 65535");
    CHECK(errorOf("version: 1\nlisteners:\n  - listen: tcp://example.org:80\nsinks:\n  - "
                  "address: stdout\n") ==
          "proxy.yaml:3:13: listeners.listen: 'tcp://example.org:80': 'example.org' is not an "
          "IP address or localhost");
  }
  SECTION("a bad sink address is recognisable as one") {
    auto loaded = loadConfigFromText(
        "version: 1\nlisteners:\n  - listen: tcp://127.0.0.1:0\nsinks:\n  - address: tcp://x:0\n",
        "proxy.yaml");
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message ==
          "proxy.yaml:5:14: sinks.address: 'tcp://x:0': a sink needs a port from 1 to 65535");
    CHECK(isSinkAddressError(loaded.error()));
    CHECK_FALSE(isSinkAddressError(Error{errorOf("version: 1\nlistner: []\n")}));
  }
  SECTION("a listener naming a sink that does not exist") {
    CHECK(errorOf("version: 1\nsinks:\n  - name: out\n    address: stdout\nlisteners:\n  - "
                  "listen: tcp://127.0.0.1:0\n    sinks: [out, syslog]\n") ==
          "proxy.yaml:7:18: listeners.sinks: no sink named 'syslog'");
  }
  SECTION("sizes, durations and percentages") {
    CHECK(errorOf(std::string(kMinimal) + "    max_buffer_bytes: 64 apples\n") ==
          "proxy.yaml:7:23: sinks.max_buffer_bytes: unknown size unit ' apples' (use B, KiB, "
          "MiB, GiB)");
    CHECK(errorOf(std::string(kMinimal) + "limits:\n  idle_timeout: 30\n") ==
          "proxy.yaml:8:17: limits.idle_timeout: '30' needs a unit: ms, s, m or h");
    CHECK(errorOf(std::string(kMinimal) + "    high_watermark: 0.75\n") ==
          "proxy.yaml:7:21: sinks.high_watermark: expected a percentage such as 75%, got "
          "'0.75'");
    CHECK(errorOf(std::string(kMinimal) + "    high_watermark: 50%\n    low_watermark: 60%\n") ==
          "proxy.yaml:8:20: sinks.low_watermark: must be below high_watermark (50%)");
  }
  SECTION("log level and format") {
    CHECK(errorOf(std::string(kMinimal) + "log:\n  level: loud\n") ==
          "proxy.yaml:8:10: log.level: expected trace, debug, info, warn, error, critical or "
          "off, got 'loud'");
    CHECK(errorOf(std::string(kMinimal) + "log:\n  format: xml\n") ==
          "proxy.yaml:8:11: log.format: expected text or json, got 'xml'");
  }
  SECTION("a file that does not exist") {
    auto loaded = loadConfig("/nonexistent/scrubproxy.yaml");
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message == "/nonexistent/scrubproxy.yaml: cannot read the config file");
  }
}

TEST_CASE("${env:NAME} and ${file:PATH} replace secrets; $$ is a literal $", "[config]") {
  const auto env = fakeEnv({{"SINK_HOST", "10.1.2.3"}, {"PORT", "6514"}});
  CHECK(*expandReferences("tcp://${env:SINK_HOST}:${env:PORT}", "", env) == "tcp://10.1.2.3:6514");
  CHECK(*expandReferences("cost: $$5 and $x", "", env) == "cost: $5 and $x");
  CHECK(expandReferences("${env:MISSING}", "", env).error().message ==
        "${env:MISSING}: the environment variable is not set");
  CHECK(expandReferences("${vault:x}", "", env).error().message ==
        "unknown reference '${vault:x}' (use ${env:NAME} or ${file:PATH}; $$ is a literal $)");
  CHECK(expandReferences("${env:X", "", env).error().message == "unterminated reference '${env:X'");

  const auto dir = tempDir();
  { std::ofstream(dir / "host.txt") << "127.0.0.9\n"; }
  CHECK(*expandReferences("${file:host.txt}", dir.string(), env) == "127.0.0.9");
  CHECK(*expandReferences("${file:" + (dir / "host.txt").string() + "}", "", env) == "127.0.0.9");
  CHECK(expandReferences("${file:nope.txt}", dir.string(), env).error().message ==
        "${file:nope.txt}: cannot read '" + (dir / "nope.txt").string() + "'");

  SECTION("in a config file: relative paths from the file's folder, errors at the value") {
    {
      std::ofstream(dir / "proxy.yaml")
          << "version: 1\nlisteners:\n  - listen: tcp://127.0.0.1:0\nsinks:\n"
             "  - address: tcp://${file:host.txt}:${env:PORT}\n";
      std::ofstream(dir / "broken.yaml")
          << "version: 1\nlisteners:\n  - listen: tcp://127.0.0.1:0\nsinks:\n"
             "  - address: tcp://${env:NOPE}:1\n";
    }
    auto loaded = loadConfig((dir / "proxy.yaml").string(), env);
    REQUIRE(loaded.ok());
    CHECK(loaded->sinks[0].address.url() == "tcp://127.0.0.9:6514");
    auto broken = loadConfig((dir / "broken.yaml").string(), env);
    REQUIRE_FALSE(broken.ok());
    CHECK(broken.error().message == (dir / "broken.yaml").string() +
                                        ":5:14: sinks.address: ${env:NOPE}: the environment "
                                        "variable is not set");
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("addresses, sizes and durations parse strictly", "[config]") {
  CHECK(parseListenAddress("tcp://127.0.0.1:5170")->url() == "tcp://127.0.0.1:5170");
  CHECK(parseListenAddress("tcp://localhost:0")->host == "localhost");
  CHECK(parseListenAddress("unix:///tmp/a.sock")->path == "/tmp/a.sock");
  CHECK_FALSE(parseListenAddress("unix://relative.sock").ok());
  CHECK_FALSE(parseListenAddress("tcp://127.0.0.1").ok());
  CHECK_FALSE(parseListenAddress("tcp://::1:80").ok());
  CHECK(parseSinkAddress("stdout")->kind == Address::Kind::Stdout);
  CHECK(parseSinkAddress("tcp://syslog.local:514")->url() == "tcp://syslog.local:514");
  CHECK_FALSE(parseSinkAddress("udp://1.2.3.4:514").ok());

  CHECK(isLocalOnly(*parseListenAddress("tcp://127.3.4.5:1")));
  CHECK(isLocalOnly(*parseListenAddress("tcp://[::1]:1")));
  CHECK(isLocalOnly(*parseListenAddress("tcp://localhost:1")));
  CHECK(isLocalOnly(*parseListenAddress("unix:///tmp/x.sock")));
  CHECK_FALSE(isLocalOnly(*parseListenAddress("tcp://0.0.0.0:1")));
  CHECK_FALSE(isLocalOnly(*parseListenAddress("tcp://[::]:1")));
  CHECK_FALSE(isLocalOnly(*parseListenAddress("tcp://10.0.0.1:1")));

  CHECK(*parseSize("4096") == 4096);
  CHECK(*parseSize("512KiB") == 512u << 10);
  CHECK(*parseSize("2GiB") == uint64_t{2} << 30);
  CHECK(*parseSize("10MB") == 10'000'000);
  CHECK_FALSE(parseSize("-1").ok());
  CHECK_FALSE(parseSize("1TiB").ok());
  CHECK(parseDuration("250ms")->count() == 250);
  CHECK(parseDuration("5m")->count() == 300000);
  CHECK(parseDuration("0")->count() == 0);
  CHECK_FALSE(parseDuration("5").ok());
  CHECK_FALSE(parseDuration("1d").ok());
}

TEST_CASE("a non-loopback bind must be asked for", "[config]") {
  auto loaded = loadConfigFromText(
      "version: 1\nlisteners:\n  - listen: tcp://0.0.0.0:5170\nsinks:\n  - address: stdout\n",
      "proxy.yaml");
  REQUIRE(loaded.ok());
  auto status = validateConfig(*loaded);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message ==
        "proxy.yaml:3:13: tcp://0.0.0.0:5170 is not a loopback address; binding it exposes the "
        "proxy to the network, set `allow_public: true` to mean it");

  Overrides allow;
  allow.allow_public = true;
  REQUIRE(applyOverrides(*loaded, allow).ok());
  CHECK(validateConfig(*loaded).ok());

  auto yes = loadConfigFromText("version: 1\nlisteners:\n  - listen: tcp://0.0.0.0:5170\n    "
                                "allow_public: true\nsinks:\n  - address: stdout\n",
                                "proxy.yaml");
  REQUIRE(yes.ok());
  CHECK(validateConfig(*yes).ok());
}

TEST_CASE("flags override the file", "[config][cli]") {
  auto loaded = loadConfigFromText(defaultConfigText(), kDefaultConfigName);
  REQUIRE(loaded.ok());
  ProxyConfig config = std::move(loaded).value();
  Overrides flags;
  flags.listen = {"tcp://127.0.0.1:0", "unix:///tmp/scrub-test.sock"};
  flags.sinks = {"tcp://127.0.0.1:6514"};
  flags.rules = {"pii-detectors"};
  flags.workers = 2;
  flags.log_level = "debug";
  flags.log_format = LogFormat::Json;
  REQUIRE(applyOverrides(config, flags).ok());
  REQUIRE(validateConfig(config).ok());
  REQUIRE(config.listeners.size() == 2);
  CHECK(config.listeners[1].address.path == "/tmp/scrub-test.sock");
  for (const auto& listener : config.listeners) {
    CHECK(listener.rules == std::vector<std::string>{"pii-detectors"});
    CHECK(listener.sinks == std::vector<std::string>{"sink"});
  }
  REQUIRE(config.sinks.size() == 1);
  CHECK(config.sinks[0].address.url() == "tcp://127.0.0.1:6514");
  CHECK(config.workers == 2);
  CHECK(config.log.level == "debug");
  CHECK(config.log.format == LogFormat::Json);

  SECTION("--listen alone keeps the file's rules and sinks") {
    ProxyConfig fresh = *loadConfigFromText(defaultConfigText(), kDefaultConfigName);
    Overrides listen_only;
    listen_only.listen = {"tcp://127.0.0.1:0"};
    REQUIRE(applyOverrides(fresh, listen_only).ok());
    CHECK(fresh.listeners[0].rules == std::vector<std::string>{"openfn-retry-ids"});
    CHECK(fresh.listeners[0].sinks == std::vector<std::string>{"stdout"});
  }
  SECTION("bad flag values say which flag") {
    ProxyConfig fresh = *loadConfigFromText(defaultConfigText(), kDefaultConfigName);
    Overrides bad;
    bad.sinks = {"syslog://x"};
    auto status = applyOverrides(fresh, bad);
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().message == "--sink 'syslog://x': expected stdout, tcp://HOST:PORT, "
                                    "tls://HOST:PORT or http(s)://HOST[:PORT]/PATH");
    CHECK(isSinkAddressError(status.error()));
  }
}

TEST_CASE("scrubproxy run flags become one config, with an exit code per kind of error",
          "[config][cli]") {
  using proxy::ExitCode;
  SECTION("nothing given: the embedded default") {
    auto run = cli::buildRunConfig({});
    REQUIRE(run.ok());
    CHECK(run.config.source == kDefaultConfigName);
    CHECK(run.config.listeners[0].address.url() == "tcp://127.0.0.1:5170");
    CHECK(run.config.sinks[0].address.kind == Address::Kind::Stdout);
  }
  SECTION("flags") {
    auto run =
        cli::buildRunConfig({"--listen", "tcp://127.0.0.1:0", "--listen=unix:///tmp/s.sock",
                             "--sink", "tcp://127.0.0.1:9", "--rules", "kobo-redact", "--workers",
                             "3", "--log-format", "json", "--log-level", "warn"});
    REQUIRE(run.ok());
    CHECK(run.config.listeners.size() == 2);
    CHECK(run.config.workers == 3);
    CHECK(run.config.log.format == LogFormat::Json);
    CHECK(run.config.log.level == "warn");
  }
  SECTION("usage errors") {
    CHECK(cli::buildRunConfig({"--listne", "x"}).code == ExitCode::Usage);
    CHECK(cli::buildRunConfig({"--workers", "many"}).code == ExitCode::Usage);
    CHECK(cli::buildRunConfig({"--log-format", "xml"}).code == ExitCode::Usage);
    CHECK(cli::buildRunConfig({"extra"}).code == ExitCode::Usage);
  }
  SECTION("a sink address that cannot be used") {
    auto run = cli::buildRunConfig({"--sink", "tcp://127.0.0.1:0"});
    CHECK(run.code == ExitCode::SinkInvalid);
    CHECK(run.error == "--sink 'tcp://127.0.0.1:0': a sink needs a port from 1 to 65535");
  }
  SECTION("a public bind without --allow-public, then with it") {
    auto run = cli::buildRunConfig({"--listen", "tcp://0.0.0.0:0"});
    CHECK(run.code == ExitCode::ConfigInvalid);
    CHECK(run.error == "--listen tcp://0.0.0.0:0: tcp://0.0.0.0:0 is not a loopback address; "
                       "binding it exposes the proxy to the network, add --allow-public to mean "
                       "it");
    CHECK(cli::buildRunConfig({"--listen", "tcp://0.0.0.0:0", "--allow-public"}).ok());
  }
  SECTION("a config file that does not load") {
    auto run = cli::buildRunConfig({"--config", "/nonexistent.yaml"});
    CHECK(run.code == ExitCode::ConfigInvalid);
  }
}

TEST_CASE("config: the per-line work budget", "[config]") {
  auto loaded = loadConfigFromText("version: 1\nlimits:\n  max_scan_bytes_per_line: 4MiB\n"
                                   "  max_decoded_bytes_per_line: 0\nlisteners:\n"
                                   "  - listen: tcp://127.0.0.1:0\nsinks:\n  - address: stdout\n",
                                   "proxy.yaml");
  REQUIRE(loaded.ok());
  CHECK(loaded->limits.max_scan_bytes_per_line == (4u << 20));
  CHECK(loaded->limits.max_decoded_bytes_per_line == 0);
  auto small = loadConfigFromText("version: 1\nlimits:\n  max_scan_bytes_per_line: 100\n"
                                  "listeners:\n  - listen: tcp://127.0.0.1:0\nsinks:\n"
                                  "  - address: stdout\n",
                                  "proxy.yaml");
  REQUIRE_FALSE(small.ok());
  CHECK(small.error().message ==
        "proxy.yaml:3:28: limits.max_scan_bytes_per_line: at least 4096 bytes");
}
