#include "config/proxy_config.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "rules/edit_distance.h"

namespace scrub::config {
namespace {

// Thrown only inside this file and caught in loadConfigFromText(): yaml-cpp reports errors by
// exception, and unwinding out of the nested walk is the simplest way to stop at the first one.
struct LoadFailure {
  Error error;
};

[[noreturn]] void fail(const SourcePos& pos, const std::string& what) {
  throw LoadFailure{Error::at(pos, what)};
}

bool isIpLiteral(const std::string& host, int family) {
  unsigned char out[16];
  return inet_pton(family, host.c_str(), out) == 1;
}

bool isHostName(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '-' || host.front() == '.') {
    return false;
  }
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
  });
}

// HOST:PORT (or [v6]:PORT) of `url`, which starts with a `scheme://` of `scheme_len` bytes.
// `names`: whether DNS names are acceptable hosts; `default_port`: used when no port is given
// (0: a port is required).
Result<Address> parseHostPort(std::string_view url, size_t scheme_len, bool names,
                              bool port_zero_ok, uint16_t default_port = 0) {
  const std::string scheme(url.substr(0, scheme_len));
  std::string_view rest = url.substr(scheme_len);
  Address address;
  address.kind = Address::Kind::Tcp;
  std::string_view port_text;
  bool has_port = true;
  if (rest.starts_with("[")) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos || (close + 1 < rest.size() && rest[close + 1] != ':') ||
        (close + 1 >= rest.size() && default_port == 0)) {
      return Error{"'" + std::string(url) + "': expected " + scheme + "[IPv6]:PORT"};
    }
    address.host = std::string(rest.substr(1, close - 1));
    has_port = close + 1 < rest.size();
    port_text = has_port ? rest.substr(close + 2) : std::string_view{};
    if (!isIpLiteral(address.host, AF_INET6)) {
      return Error{"'" + std::string(url) + "': '" + address.host + "' is not an IPv6 address"};
    }
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos && default_port != 0) {
      has_port = false;
      address.host = std::string(rest);
    } else if (colon == std::string_view::npos || rest.find(':') != colon) {
      return Error{"'" + std::string(url) + "': expected " + scheme + "HOST:PORT"};
    } else {
      address.host = std::string(rest.substr(0, colon));
      port_text = rest.substr(colon + 1);
    }
    const bool ip = isIpLiteral(address.host, AF_INET);
    if (!ip && address.host != "localhost" && !(names && isHostName(address.host))) {
      return Error{"'" + std::string(url) + "': '" + address.host + "' is not " +
                   (names ? "a host name or IP address" : "an IP address or localhost")};
    }
  }
  if (!has_port) {
    address.port = default_port;
    return address;
  }
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return Error{"'" + std::string(url) + "': the port must be a number from " +
                 (port_zero_ok ? "0" : "1") + " to 65535"};
  }
  if (port == 0 && !port_zero_ok) {
    return Error{"'" + std::string(url) + "': a sink needs a port from 1 to 65535"};
  }
  address.port = static_cast<uint16_t>(port);
  return address;
}

// http://HOST[:PORT]/PATH?QUERY or https://… as a sink.
Result<Address> parseHttpSink(std::string_view url, bool tls) {
  const size_t scheme_len = tls ? 8 : 7;
  const size_t slash = url.find('/', scheme_len);
  const std::string authority(url.substr(0, slash));
  auto address =
      parseHostPort(authority, scheme_len, /*names=*/true, /*port_zero_ok=*/false, tls ? 443 : 80);
  if (!address.ok()) {
    return Error{address.error().message + " (expected " + (tls ? "https" : "http") +
                 "://HOST[:PORT]/PATH)"};
  }
  address->http = true;
  address->tls = tls;
  address->target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  for (const char c : address->target) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f || c == '#') {
      return Error{"'" + std::string(url) +
                   "': the path may not hold spaces, control characters or a #fragment"};
    }
  }
  return address;
}

class Loader {
public:
  Loader(std::string_view file_name, const LoadOptions& options)
      : file_(file_name), options_(options) {
    const std::filesystem::path path(file_);
    base_dir_ = path.parent_path().string();
  }

  ProxyConfig load(std::string_view text) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      fail(posOf(e.mark), "YAML: " + e.msg);
    }
    if (!root.IsMap()) {
      fail(SourcePos{file_, 1, 1}, "a config file is a mapping with `version: 1`");
    }
    checkKeys(root, "",
              {"version", "workers", "log", "limits", "listeners", "sinks", "alerts", "admin"});
    if (!root["version"]) {
      fail(SourcePos{file_, 1, 1}, "missing `version: 1`");
    }
    if (scalar(root["version"], "version") != "1") {
      fail(posOf(root["version"]), "version: only version 1 is understood");
    }
    ProxyConfig config;
    config.source = file_;
    if (const auto node = root["workers"]) {
      const uint64_t n = count(node, "workers");
      if (n > 1024) {
        fail(posOf(node), "workers: at most 1024");
      }
      config.workers = static_cast<unsigned>(n);
    }
    if (const auto node = root["log"]) {
      loadLog(node, config.log);
    }
    if (const auto node = root["limits"]) {
      loadLimits(node, config.limits);
    }
    if (const auto node = root["alerts"]) {
      loadAlerts(node, config.alerts);
    }
    if (const auto node = root["admin"]) {
      loadAdmin(node, config.admin);
    }
    if (const auto node = root["sinks"]) {
      if (!node.IsSequence()) {
        fail(posOf(node), "sinks: expected a list");
      }
      for (const auto& item : node) {
        config.sinks.push_back(loadSink(item, config.sinks.size()));
      }
    }
    if (const auto node = root["listeners"]) {
      if (!node.IsSequence()) {
        fail(posOf(node), "listeners: expected a list");
      }
      for (const auto& item : node) {
        config.listeners.push_back(loadListener(item, config));
      }
    }
    if (config.sinks.empty()) {
      fail(SourcePos{file_, 1, 1}, "sinks: at least one sink is needed");
    }
    if (config.listeners.empty()) {
      fail(SourcePos{file_, 1, 1}, "listeners: at least one listener is needed");
    }
    return config;
  }

private:
  SourcePos posOf(const YAML::Node& node) const { return posOf(node.Mark()); }
  SourcePos posOf(const YAML::Mark& mark) const {
    return SourcePos{file_, mark.line + 1, mark.column + 1};
  }

  void checkKeys(const YAML::Node& map, std::string_view where,
                 std::initializer_list<std::string_view> allowed) {
    if (!map.IsMap()) {
      fail(posOf(map), std::string(where) + "expected a mapping");
    }
    for (const auto& entry : map) {
      const std::string key = entry.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
        continue;
      }
      std::string hint;
      for (std::string_view candidate : allowed) {
        if (editDistance(key, candidate) <= 2) {
          hint = " (did you mean '" + std::string(candidate) + "'?)";
          break;
        }
      }
      fail(posOf(entry.first), std::string(where) + "unknown key '" + key + "'" + hint);
    }
  }

  // A scalar with its `${…}` references expanded.
  std::string scalar(const YAML::Node& node, std::string_view what) {
    if (!node.IsScalar()) {
      fail(posOf(node), std::string(what) + ": expected a single value");
    }
    auto expanded = expandReferences(node.Scalar(), base_dir_, options_);
    if (!expanded.ok()) {
      fail(posOf(node), std::string(what) + ": " + expanded.error().message);
    }
    return std::move(expanded).value();
  }

  std::vector<std::string> list(const YAML::Node& node, std::string_view what) {
    std::vector<std::string> out;
    if (node.IsScalar()) {
      out.push_back(scalar(node, what));
      return out;
    }
    if (!node.IsSequence()) {
      fail(posOf(node), std::string(what) + ": expected a list");
    }
    for (const auto& item : node) {
      out.push_back(scalar(item, what));
    }
    return out;
  }

  bool boolean(const YAML::Node& node, std::string_view what) {
    const std::string text = scalar(node, what);
    if (text == "true") {
      return true;
    }
    if (text == "false") {
      return false;
    }
    fail(posOf(node), std::string(what) + ": expected true or false, got '" + text + "'");
  }

  uint64_t count(const YAML::Node& node, std::string_view what) {
    const std::string text = scalar(node, what);
    uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      fail(posOf(node),
           std::string(what) + ": expected a non-negative integer, got '" + text + "'");
    }
    return value;
  }

  uint64_t size(const YAML::Node& node, std::string_view what, uint64_t min) {
    auto parsed = parseSize(scalar(node, what));
    if (!parsed.ok()) {
      fail(posOf(node), std::string(what) + ": " + parsed.error().message);
    }
    if (*parsed < min) {
      fail(posOf(node), std::string(what) + ": at least " + std::to_string(min) + " bytes");
    }
    return *parsed;
  }

  std::chrono::milliseconds duration(const YAML::Node& node, std::string_view what) {
    auto parsed = parseDuration(scalar(node, what));
    if (!parsed.ok()) {
      fail(posOf(node), std::string(what) + ": " + parsed.error().message);
    }
    return *parsed;
  }

  unsigned percent(const YAML::Node& node, std::string_view what) {
    const std::string text = scalar(node, what);
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end + 1 != text.data() + text.size() || *end != '%' || value > 100) {
      fail(posOf(node),
           std::string(what) + ": expected a percentage such as 75%, got '" + text + "'");
    }
    return value;
  }

  void loadLog(const YAML::Node& node, LogConfig& log) {
    checkKeys(node, "log: ", {"level", "format", "stats_interval"});
    if (const auto level = node["level"]) {
      log.level = scalar(level, "log.level");
      static const std::set<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                    "error", "critical", "off"};
      if (kLevels.count(log.level) == 0) {
        fail(posOf(level), "log.level: expected trace, debug, info, warn, error, critical or "
                           "off, got '" +
                               log.level + "'");
      }
    }
    if (const auto format = node["format"]) {
      const std::string text = scalar(format, "log.format");
      if (text == "text") {
        log.format = LogFormat::Text;
      } else if (text == "json") {
        log.format = LogFormat::Json;
      } else {
        fail(posOf(format), "log.format: expected text or json, got '" + text + "'");
      }
    }
    if (const auto interval = node["stats_interval"]) {
      log.stats_interval = duration(interval, "log.stats_interval");
    }
  }

  void loadAlerts(const YAML::Node& node, AlertsConfig& alerts) {
    checkKeys(node, "alerts: ", {"webhook_url", "ca_file", "window", "max_ids"});
    if (const auto n = node["webhook_url"]) {
      // A Slack-style webhook URL is its own credential.
      alerts.webhook_url = secret(n, "alerts.webhook_url", 8);
      Address host;
      const bool https = alerts.webhook_url.starts_with("https://");
      if (https || alerts.webhook_url.starts_with("http://")) {
        auto parsed = parseSinkAddress(alerts.webhook_url);
        if (parsed.ok()) {
          host = std::move(parsed).value();
        }
      }
      if (host.host.empty()) {
        fail(posOf(n), "alerts.webhook_url: not an http(s)://HOST/PATH URL");
      }
      if (!https && !isLocalOnly(host)) {
        fail(posOf(n), "alerts.webhook_url: must be https:// (plain http:// only to loopback)");
      }
    }
    if (const auto n = node["ca_file"]) {
      alerts.ca_file = readablePath(n, "alerts.ca_file");
    }
    if (const auto n = node["window"]) {
      alerts.window = duration(n, "alerts.window");
      if (alerts.window.count() < 1000) {
        fail(posOf(n), "alerts.window: at least 1s");
      }
    }
    if (const auto n = node["max_ids"]) {
      alerts.max_ids = count(n, "alerts.max_ids");
      if (alerts.max_ids > 1000) {
        fail(posOf(n), "alerts.max_ids: at most 1000");
      }
    }
  }

  void loadAdmin(const YAML::Node& node, AdminConfig& admin) {
    checkKeys(node, "admin: ", {"listen", "allow_public"});
    if (const auto listen = node["listen"]) {
      auto parsed = parseAdminAddress(scalar(listen, "admin.listen"));
      if (!parsed.ok()) {
        fail(posOf(listen), "admin.listen: " + parsed.error().message);
      }
      admin = std::move(parsed).value();
      admin.pos = posOf(listen);
    }
    if (const auto allow = node["allow_public"]) {
      admin.allow_public = boolean(allow, "admin.allow_public");
    }
  }

  void loadLimits(const YAML::Node& node, Limits& limits) {
    checkKeys(node, "limits: ",
              {"max_line_bytes", "max_scan_bytes_per_line", "max_decoded_bytes_per_line",
               "max_connections", "idle_timeout", "shutdown_timeout"});
    if (const auto n = node["max_line_bytes"]) {
      limits.max_line_bytes = size(n, "limits.max_line_bytes", 64);
      if (limits.max_line_bytes > (uint64_t{1} << 30)) {
        fail(posOf(n), "limits.max_line_bytes: at most 1GiB");
      }
    }
    if (const auto n = node["max_scan_bytes_per_line"]) {
      limits.max_scan_bytes_per_line = size(n, "limits.max_scan_bytes_per_line", 4096);
    }
    if (const auto n = node["max_decoded_bytes_per_line"]) {
      limits.max_decoded_bytes_per_line = size(n, "limits.max_decoded_bytes_per_line", 0);
    }
    if (const auto n = node["max_connections"]) {
      limits.max_connections = count(n, "limits.max_connections");
      if (limits.max_connections == 0) {
        fail(posOf(n), "limits.max_connections: at least 1");
      }
    }
    if (const auto n = node["idle_timeout"]) {
      limits.idle_timeout = duration(n, "limits.idle_timeout");
    }
    if (const auto n = node["shutdown_timeout"]) {
      limits.shutdown_timeout = duration(n, "limits.shutdown_timeout");
    }
  }

  SinkConfig loadSink(const YAML::Node& node, size_t index) {
    checkKeys(node, "sinks: ",
              {"name", "address", "max_buffer_bytes", "high_watermark", "low_watermark",
               "batch_bytes", "reconnect_min", "reconnect_max", "connect_timeout", "tls", "http"});
    SinkConfig sink;
    sink.pos = posOf(node);
    sink.name =
        node["name"] ? scalar(node["name"], "sinks.name") : "sink" + std::to_string(index + 1);
    if (sink.name.empty()) {
      fail(posOf(node["name"]), "sinks.name: must not be empty");
    }
    const auto address = node["address"];
    if (!address) {
      fail(sink.pos, "sinks: '" + sink.name +
                         "' needs an `address` (stdout, tcp://, tls:// or http(s)://...)");
    }
    auto parsed = parseSinkAddress(scalar(address, "sinks.address"));
    if (!parsed.ok()) {
      fail(posOf(address), "sinks.address: " + parsed.error().message);
    }
    sink.address = std::move(parsed).value();
    if (const auto n = node["max_buffer_bytes"]) {
      sink.max_buffer_bytes = size(n, "sinks.max_buffer_bytes", 64 << 10);
    }
    if (const auto n = node["high_watermark"]) {
      sink.high_watermark_percent = percent(n, "sinks.high_watermark");
    }
    if (const auto n = node["low_watermark"]) {
      sink.low_watermark_percent = percent(n, "sinks.low_watermark");
    }
    if (sink.high_watermark_percent > 90 || sink.high_watermark_percent < 10) {
      fail(posOf(node["high_watermark"]),
           "sinks.high_watermark: from 10% to 90% (the rest absorbs reads in progress)");
    }
    if (sink.low_watermark_percent >= sink.high_watermark_percent) {
      fail(posOf(node["low_watermark"] ? node["low_watermark"] : node),
           "sinks.low_watermark: must be below high_watermark (" +
               std::to_string(sink.high_watermark_percent) + "%)");
    }
    if (const auto n = node["batch_bytes"]) {
      sink.batch_bytes = size(n, "sinks.batch_bytes", 4096);
    }
    if (const auto n = node["reconnect_min"]) {
      sink.reconnect_min = duration(n, "sinks.reconnect_min");
    }
    if (const auto n = node["reconnect_max"]) {
      sink.reconnect_max = duration(n, "sinks.reconnect_max");
    }
    if (sink.reconnect_min.count() < 1 || sink.reconnect_max < sink.reconnect_min) {
      fail(posOf(node["reconnect_max"] ? node["reconnect_max"] : node),
           "sinks.reconnect_max: must be at least reconnect_min, which must be at least 1ms");
    }
    if (const auto n = node["connect_timeout"]) {
      sink.connect_timeout = duration(n, "sinks.connect_timeout");
      if (sink.connect_timeout.count() == 0) {
        fail(posOf(n), "sinks.connect_timeout: must be more than 0");
      }
    }
    if (const auto tls = node["tls"]) {
      if (!sink.address.tls) {
        fail(posOf(tls), "sinks.tls: only for a tls:// or https:// sink");
      }
      loadTlsClient(tls, sink.tls);
    }
    if (const auto http = node["http"]) {
      if (!sink.address.http) {
        fail(posOf(http), "sinks.http: only for an http:// or https:// sink");
      }
      loadHttpSink(http, sink.http);
    }
    return sink;
  }

  // A file the proxy reads (certificates, keys, CA bundles): resolved from the config's folder.
  std::string readablePath(const YAML::Node& node, std::string_view what) {
    std::string text = scalar(node, what);
    if (text.empty()) {
      fail(posOf(node), std::string(what) + ": must not be empty");
    }
    std::filesystem::path path(text);
    if (path.is_relative() && !base_dir_.empty()) {
      path = std::filesystem::path(base_dir_) / path;
    }
    return path.string();
  }

  void loadTlsClient(const YAML::Node& node, TlsClientConfig& tls) {
    checkKeys(node, "sinks.tls: ",
              {"ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify"});
    if (const auto n = node["ca_file"]) {
      tls.ca_file = readablePath(n, "sinks.tls.ca_file");
    }
    if (const auto n = node["cert_file"]) {
      tls.cert_file = readablePath(n, "sinks.tls.cert_file");
    }
    if (const auto n = node["key_file"]) {
      tls.key_file = readablePath(n, "sinks.tls.key_file");
    }
    if (tls.cert_file.empty() != tls.key_file.empty()) {
      fail(posOf(node), "sinks.tls: a client certificate needs both cert_file and key_file");
    }
    if (const auto n = node["server_name"]) {
      tls.server_name = scalar(n, "sinks.tls.server_name");
      if (!isHostName(tls.server_name)) {
        fail(posOf(n), "sinks.tls.server_name: '" + tls.server_name + "' is not a host name");
      }
    }
    if (const auto n = node["insecure_skip_verify"]) {
      tls.insecure_skip_verify = boolean(n, "sinks.tls.insecure_skip_verify");
    }
  }

  void loadTlsServer(const YAML::Node& node, TlsServerConfig& tls) {
    checkKeys(node, "listeners.tls: ", {"cert_file", "key_file", "client_ca_file", "min_version"});
    if (!node["cert_file"] || !node["key_file"]) {
      fail(posOf(node), "listeners.tls: needs `cert_file` and `key_file`");
    }
    tls.cert_file = readablePath(node["cert_file"], "listeners.tls.cert_file");
    tls.key_file = readablePath(node["key_file"], "listeners.tls.key_file");
    if (const auto n = node["client_ca_file"]) {
      tls.client_ca_file = readablePath(n, "listeners.tls.client_ca_file");
    }
    if (const auto n = node["min_version"]) {
      tls.min_version = scalar(n, "listeners.tls.min_version");
      if (tls.min_version != "1.2" && tls.min_version != "1.3") {
        fail(posOf(n),
             "listeners.tls.min_version: expected 1.2 or 1.3, got '" + tls.min_version + "'");
      }
    }
  }

  std::vector<std::pair<std::string, std::string>> stringMap(const YAML::Node& node,
                                                             std::string_view what) {
    if (!node.IsMap()) {
      fail(posOf(node), std::string(what) + ": expected a mapping of names to values");
    }
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      if (key.empty()) {
        fail(posOf(entry.first), std::string(what) + ": a name must not be empty");
      }
      out.emplace_back(key, scalar(entry.second, std::string(what) + "." + key));
    }
    return out;
  }

  void loadHttpSink(const YAML::Node& node, HttpSinkConfig& http) {
    checkKeys(node, "sinks.http: ",
              {"format", "batch_records", "flush_interval", "request_timeout", "gzip", "headers",
               "index", "labels", "sourcetype"});
    if (const auto n = node["format"]) {
      const std::string text = scalar(n, "sinks.http.format");
      static const std::pair<std::string_view, HttpSinkFormat> kFormats[] = {
          {"ndjson", HttpSinkFormat::Ndjson},
          {"json_array", HttpSinkFormat::JsonArray},
          {"elasticsearch", HttpSinkFormat::ElasticsearchBulk},
          {"loki", HttpSinkFormat::Loki},
          {"splunk_hec", HttpSinkFormat::SplunkHec}};
      const auto* found = std::find_if(std::begin(kFormats), std::end(kFormats),
                                       [&](const auto& f) { return f.first == text; });
      if (found == std::end(kFormats)) {
        fail(posOf(n), "sinks.http.format: expected ndjson, json_array, elasticsearch, loki or "
                       "splunk_hec, got '" +
                           text + "'");
      }
      http.format = found->second;
    }
    if (const auto n = node["batch_records"]) {
      http.batch_records = count(n, "sinks.http.batch_records");
      if (http.batch_records == 0) {
        fail(posOf(n), "sinks.http.batch_records: at least 1");
      }
    }
    if (const auto n = node["flush_interval"]) {
      http.flush_interval = duration(n, "sinks.http.flush_interval");
    }
    if (const auto n = node["request_timeout"]) {
      http.request_timeout = duration(n, "sinks.http.request_timeout");
      if (http.request_timeout.count() == 0) {
        fail(posOf(n), "sinks.http.request_timeout: must be more than 0");
      }
    }
    if (const auto n = node["gzip"]) {
      http.gzip = boolean(n, "sinks.http.gzip");
    }
    if (const auto n = node["headers"]) {
      http.headers = stringMap(n, "sinks.http.headers");
      for (const auto& entry : n) {
        const std::string& raw = entry.second.Scalar();
        if (raw.find("${env:") == std::string::npos && raw.find("${file:") == std::string::npos) {
          http.literal_headers.push_back(entry.first.Scalar());
        }
      }
      for (const auto& [name, value] : http.headers) {
        const bool token = std::all_of(name.begin(), name.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
        });
        if (!token || value.find_first_of("\r\n") != std::string::npos) {
          fail(posOf(n), "sinks.http.headers: '" + name +
                             "' is not a valid header (name: letters, digits, '-'; value: one "
                             "line)");
        }
      }
    }
    if (const auto n = node["index"]) {
      http.index = scalar(n, "sinks.http.index");
    }
    if (const auto n = node["labels"]) {
      http.labels = stringMap(n, "sinks.http.labels");
    }
    if (const auto n = node["sourcetype"]) {
      http.sourcetype = scalar(n, "sinks.http.sourcetype");
    }
  }

  ListenerConfig loadListener(const YAML::Node& node, const ProxyConfig& config) {
    checkKeys(node,
              "listeners: ", {"name", "listen", "rules", "sinks", "allow_public", "http", "tls"});
    ListenerConfig listener;
    listener.pos = posOf(node);
    listener.name = node["name"] ? scalar(node["name"], "listeners.name")
                                 : "listener" + std::to_string(config.listeners.size() + 1);
    const auto listen = node["listen"];
    if (!listen) {
      fail(listener.pos,
           "listeners: '" + listener.name + "' needs `listen` (tcp://HOST:PORT or unix:///PATH)");
    }
    auto parsed = parseListenAddress(scalar(listen, "listeners.listen"));
    if (!parsed.ok()) {
      fail(posOf(listen), "listeners.listen: " + parsed.error().message);
    }
    listener.address = std::move(parsed).value();
    listener.listen_pos = posOf(listen);
    if (const auto rules = node["rules"]) {
      listener.rules = list(rules, "listeners.rules");
    }
    if (const auto sinks = node["sinks"]) {
      listener.sinks = list(sinks, "listeners.sinks");
      size_t i = 0;
      for (const auto& name : listener.sinks) {
        if (config.findSink(name) == nullptr) {
          const auto item = sinks.IsSequence() ? sinks[i] : sinks;
          fail(posOf(item), "listeners.sinks: no sink named '" + name + "'");
        }
        ++i;
      }
    } else {
      for (const auto& sink : config.sinks) {
        listener.sinks.push_back(sink.name);
      }
    }
    if (const auto allow = node["allow_public"]) {
      listener.allow_public = boolean(allow, "listeners.allow_public");
    }
    if (const auto http = node["http"]) {
      if (!listener.address.http) {
        fail(posOf(http), "listeners.http: only for an http:// or https:// listener");
      }
      loadHttp(http, listener.http);
    }
    if (const auto tls = node["tls"]) {
      if (!listener.address.tls) {
        fail(posOf(tls), "listeners.tls: only for a tls:// or https:// listener");
      }
      loadTlsServer(tls, listener.tls);
    } else if (listener.address.tls) {
      fail(listener.listen_pos, "listeners: '" + listener.name +
                                    "' listens with TLS and needs a `tls:` block with cert_file "
                                    "and key_file");
    }
    return listener;
  }

  // A secret: only a `${env:NAME}` or `${file:PATH}` reference, never the value itself.
  std::string secret(const YAML::Node& node, std::string_view what, size_t min_bytes) {
    if (!node.IsScalar()) {
      fail(posOf(node), std::string(what) + ": expected a single value");
    }
    const std::string& raw = node.Scalar();
    const bool reference = (raw.starts_with("${env:") || raw.starts_with("${file:")) &&
                           raw.find('}') == raw.size() - 1;
    if (!reference) {
      fail(posOf(node), std::string(what) +
                            ": a secret must be a ${env:NAME} or ${file:PATH} reference, never "
                            "written in the file");
    }
    std::string value = scalar(node, what);
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) {
      value.pop_back();
    }
    if (value.size() < min_bytes) {
      fail(posOf(node), std::string(what) + ": " + raw + " is shorter than " +
                            std::to_string(min_bytes) + " characters");
    }
    return value;
  }

  void loadHttp(const YAML::Node& node, HttpListenerConfig& http) {
    checkKeys(node, "listeners.http: ",
              {"path", "max_body_bytes", "max_decompressed_bytes", "max_header_bytes", "api_keys",
               "api_key_header", "basic_users", "max_auth_failures", "auth_failure_window", "ack",
               "request_timeout"});
    if (const auto n = node["request_timeout"]) {
      http.request_timeout = duration(n, "listeners.http.request_timeout");
    }
    if (const auto n = node["ack"]) {
      const std::string text = scalar(n, "listeners.http.ack");
      if (text == "queue") {
        http.ack = HttpListenerConfig::Ack::Queue;
      } else if (text == "sink") {
        http.ack = HttpListenerConfig::Ack::Sink;
      } else {
        fail(posOf(n), "listeners.http.ack: expected queue or sink, got '" + text + "'");
      }
    }
    if (const auto n = node["path"]) {
      http.path = scalar(n, "listeners.http.path");
      if (!http.path.starts_with("/")) {
        fail(posOf(n), "listeners.http.path: must start with '/'");
      }
    }
    if (const auto n = node["max_body_bytes"]) {
      http.max_body_bytes = size(n, "listeners.http.max_body_bytes", 1);
    }
    if (const auto n = node["max_decompressed_bytes"]) {
      http.max_decompressed_bytes = size(n, "listeners.http.max_decompressed_bytes", 1);
    }
    if (const auto n = node["max_header_bytes"]) {
      http.max_header_bytes = size(n, "listeners.http.max_header_bytes", 256);
    }
    if (const auto n = node["api_key_header"]) {
      http.api_key_header = scalar(n, "listeners.http.api_key_header");
    }
    if (const auto n = node["max_auth_failures"]) {
      http.max_auth_failures = static_cast<unsigned>(
          std::min<uint64_t>(size(n, "listeners.http.max_auth_failures", 1), 1u << 20));
    }
    if (const auto n = node["auth_failure_window"]) {
      http.auth_failure_window = duration(n, "listeners.http.auth_failure_window");
    }
    if (const auto keys = node["api_keys"]) {
      if (!keys.IsSequence()) {
        fail(posOf(keys), "listeners.http.api_keys: expected a list");
      }
      for (const auto& item : keys) {
        checkKeys(item, "listeners.http.api_keys: ", {"id", "key"});
        if (!item["id"] || !item["key"]) {
          fail(posOf(item), "listeners.http.api_keys: each needs `id` and `key`");
        }
        http.api_keys.push_back(
            {scalar(item["id"], "listeners.http.api_keys.id"),
             secret(item["key"], "listeners.http.api_keys.key", kMinApiKeyBytes)});
      }
    }
    if (const auto users = node["basic_users"]) {
      if (!users.IsSequence()) {
        fail(posOf(users), "listeners.http.basic_users: expected a list");
      }
      for (const auto& item : users) {
        checkKeys(item, "listeners.http.basic_users: ", {"user", "password"});
        if (!item["user"] || !item["password"]) {
          fail(posOf(item), "listeners.http.basic_users: each needs `user` and `password`");
        }
        http.basic_users.push_back(
            {scalar(item["user"], "listeners.http.basic_users.user"),
             secret(item["password"], "listeners.http.basic_users.password", kMinPasswordBytes)});
      }
    }
  }

  std::string file_;
  std::string base_dir_;
  const LoadOptions& options_;
};

std::string where(const SourcePos& pos, const std::string& flag) {
  return pos.file.empty() ? flag + " " : pos.str() + ": ";
}

} // namespace

std::string_view formatName(HttpSinkFormat format) {
  switch (format) {
  case HttpSinkFormat::Ndjson:
    return "ndjson";
  case HttpSinkFormat::JsonArray:
    return "json_array";
  case HttpSinkFormat::ElasticsearchBulk:
    return "elasticsearch";
  case HttpSinkFormat::Loki:
    return "loki";
  case HttpSinkFormat::SplunkHec:
    return "splunk_hec";
  }
  return "ndjson";
}

std::string Address::url() const {
  switch (kind) {
  case Kind::Stdout:
    return "stdout";
  case Kind::Unix:
    return "unix://" + path;
  case Kind::Tcp:
    break;
  }
  const bool v6 = host.find(':') != std::string::npos;
  const char* scheme = http ? (tls ? "https://" : "http://") : (tls ? "tls://" : "tcp://");
  return scheme + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + target;
}

Result<AdminConfig> parseAdminAddress(std::string_view text) {
  AdminConfig admin;
  admin.configured = true;
  if (text == "off") {
    admin.enabled = false;
    return admin;
  }
  std::string_view rest = text;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  }
  auto address = parseHostPort("tcp://" + std::string(rest), 6, /*names=*/false,
                               /*port_zero_ok=*/true);
  if (!address.ok()) {
    return Error{"'" + std::string(text) +
                 "': expected HOST:PORT with an IP address or localhost (port 0: any free port), "
                 "or off"};
  }
  admin.address = std::move(address).value();
  admin.address.http = true;
  return admin;
}

Result<Address> parseListenAddress(std::string_view url) {
  struct Scheme {
    std::string_view prefix;
    bool http;
    bool tls;
  };
  static constexpr Scheme kSchemes[] = {{"tcp://", false, false},
                                        {"tls://", false, true},
                                        {"http://", true, false},
                                        {"https://", true, true}};
  for (const auto& scheme : kSchemes) {
    if (!url.starts_with(scheme.prefix)) {
      continue;
    }
    auto address = parseHostPort(url, scheme.prefix.size(), /*names=*/false,
                                 /*port_zero_ok=*/true);
    if (!address.ok()) {
      return address;
    }
    address->http = scheme.http;
    address->tls = scheme.tls;
    return address;
  }
  if (url.starts_with("unix://")) {
    Address address;
    address.kind = Address::Kind::Unix;
    address.path = std::string(url.substr(7));
    if (!address.path.starts_with("/")) {
      return Error{"'" + std::string(url) + "': expected unix:///ABSOLUTE/PATH"};
    }
    if (address.path.size() > 107) {
      return Error{"'" + std::string(url) + "': a unix socket path has at most 107 bytes"};
    }
    return address;
  }
  return Error{"'" + std::string(url) +
               "': expected tcp://, tls://, http:// or https://HOST:PORT, or unix:///PATH"};
}

Result<Address> parseSinkAddress(std::string_view url) {
  if (url == "stdout") {
    Address address;
    address.kind = Address::Kind::Stdout;
    return address;
  }
  if (url.starts_with("tcp://") || url.starts_with("tls://")) {
    auto address = parseHostPort(url, 6, /*names=*/true, /*port_zero_ok=*/false);
    if (address.ok()) {
      address->tls = url.starts_with("tls://");
    }
    return address;
  }
  if (url.starts_with("http://")) {
    return parseHttpSink(url, /*tls=*/false);
  }
  if (url.starts_with("https://")) {
    return parseHttpSink(url, /*tls=*/true);
  }
  return Error{
      "'" + std::string(url) +
      "': expected stdout, tcp://HOST:PORT, tls://HOST:PORT or http(s)://HOST[:PORT]/PATH"};
}

bool isLocalOnly(const Address& address) {
  if (address.kind != Address::Kind::Tcp) {
    return true;
  }
  if (address.host == "localhost" || address.host == "::1") {
    return true;
  }
  in_addr v4{};
  if (inet_pton(AF_INET, address.host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  return false;
}

Result<uint64_t> parseSize(std::string_view text) {
  uint64_t number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data()) {
    return Error{"expected a size such as 64MiB, 512KiB or 4096, got '" + std::string(text) + "'"};
  }
  const std::string_view unit(end, text.data() + text.size() - end);
  static const std::pair<std::string_view, uint64_t> kUnits[] = {{"", 1},
                                                                 {"B", 1},
                                                                 {"KiB", 1 << 10},
                                                                 {"MiB", 1 << 20},
                                                                 {"GiB", 1 << 30},
                                                                 {"KB", 1000},
                                                                 {"MB", 1000 * 1000},
                                                                 {"GB", 1000 * 1000 * 1000},
                                                                 {"kB", 1000},
                                                                 {"K", uint64_t{1} << 10},
                                                                 {"M", 1 << 20},
                                                                 {"G", 1 << 30}};
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) {
      if (number > (uint64_t{1} << 40) / factor) {
        return Error{"'" + std::string(text) + "' is too large"};
      }
      return number * factor;
    }
  }
  return Error{"unknown size unit '" + std::string(unit) + "' (use B, KiB, MiB, GiB)"};
}

Result<std::chrono::milliseconds> parseDuration(std::string_view text) {
  uint64_t number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data()) {
    return Error{"expected a duration such as 250ms, 10s or 5m, got '" + std::string(text) + "'"};
  }
  const std::string_view unit(end, text.data() + text.size() - end);
  if (unit.empty() && number != 0) {
    return Error{"'" + std::string(text) + "' needs a unit: ms, s, m or h"};
  }
  static const std::pair<std::string_view, uint64_t> kUnits[] = {
      {"", 0}, {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}};
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) {
      if (factor > 0 && number > (uint64_t{1} << 40) / factor) {
        return Error{"'" + std::string(text) + "' is too long"};
      }
      return std::chrono::milliseconds(number * factor);
    }
  }
  return Error{"unknown duration unit '" + std::string(unit) + "' (use ms, s, m or h)"};
}

Result<std::string> expandReferences(std::string_view text, const std::string& base_dir,
                                     const LoadOptions& options) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t dollar = text.find('$', i);
    if (dollar == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, dollar - i));
    if (text.substr(dollar).starts_with("$$")) {
      out.push_back('$');
      i = dollar + 2;
      continue;
    }
    if (!text.substr(dollar).starts_with("${")) {
      out.push_back('$');
      i = dollar + 1;
      continue;
    }
    const size_t close = text.find('}', dollar);
    if (close == std::string_view::npos) {
      return Error{"unterminated reference '" + std::string(text.substr(dollar)) + "'"};
    }
    const std::string_view ref = text.substr(dollar + 2, close - dollar - 2);
    if (ref.starts_with("env:")) {
      const std::string name(ref.substr(4));
      if (name.empty()) {
        return Error{"${env:} needs a variable name"};
      }
      const char* value =
          options.get_env ? options.get_env(name.c_str()) : std::getenv(name.c_str());
      if (value == nullptr) {
        return Error{"${env:" + name + "}: the environment variable is not set"};
      }
      out.append(value);
    } else if (ref.starts_with("file:")) {
      std::filesystem::path path(ref.substr(5));
      if (path.empty()) {
        return Error{"${file:} needs a path"};
      }
      if (path.is_relative() && !base_dir.empty()) {
        path = std::filesystem::path(base_dir) / path;
      }
      std::ifstream in(path, std::ios::binary);
      std::stringstream content;
      content << in.rdbuf();
      if (!in) {
        return Error{"${file:" + std::string(ref.substr(5)) + "}: cannot read '" + path.string() +
                     "'"};
      }
      std::string value = content.str();
      if (value.ends_with("\r\n")) {
        value.resize(value.size() - 2);
      } else if (value.ends_with("\n")) {
        value.pop_back();
      }
      out.append(value);
    } else {
      return Error{"unknown reference '${" + std::string(ref) +
                   "}' (use ${env:NAME} or ${file:PATH}; $$ is a literal $)"};
    }
    i = close + 1;
  }
  return out;
}

const SinkConfig* ProxyConfig::findSink(std::string_view name) const {
  for (const auto& sink : sinks) {
    if (sink.name == name) {
      return &sink;
    }
  }
  return nullptr;
}

Result<ProxyConfig> loadConfigFromText(std::string_view text, std::string_view file_name,
                                       const LoadOptions& options) {
  try {
    Loader loader(file_name, options);
    return loader.load(text);
  } catch (const LoadFailure& failure) {
    return failure.error;
  } catch (const YAML::Exception& e) {
    return Error::at(SourcePos{std::string(file_name), e.mark.line + 1, e.mark.column + 1},
                     "YAML: " + e.msg);
  }
}

Result<ProxyConfig> loadConfig(const std::string& path, const LoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error{path + ": cannot read the config file"};
  }
  std::stringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) {
    return Error{path + ": cannot read the config file"};
  }
  return loadConfigFromText(text.str(), path, options);
}

Status applyOverrides(ProxyConfig& config, const Overrides& overrides) {
  if (!overrides.sinks.empty()) {
    std::vector<SinkConfig> sinks;
    for (const auto& url : overrides.sinks) {
      auto address = parseSinkAddress(url);
      if (!address.ok()) {
        return Error{"--sink " + address.error().message};
      }
      SinkConfig sink;
      sink.name = overrides.sinks.size() == 1 ? "sink" : "sink" + std::to_string(sinks.size() + 1);
      sink.address = std::move(address).value();
      sinks.push_back(std::move(sink));
    }
    config.sinks = std::move(sinks);
    for (auto& listener : config.listeners) {
      listener.sinks.clear();
      for (const auto& sink : config.sinks) {
        listener.sinks.push_back(sink.name);
      }
    }
  }
  if (!overrides.listen.empty()) {
    const std::vector<std::string> rules =
        config.listeners.empty() ? std::vector<std::string>{} : config.listeners.front().rules;
    std::vector<ListenerConfig> listeners;
    for (const auto& url : overrides.listen) {
      auto address = parseListenAddress(url);
      if (!address.ok()) {
        return Error{"--listen " + address.error().message};
      }
      ListenerConfig listener;
      listener.name = "listen" + std::to_string(listeners.size() + 1);
      listener.address = std::move(address).value();
      listener.rules = rules;
      for (const auto& sink : config.sinks) {
        listener.sinks.push_back(sink.name);
      }
      listeners.push_back(std::move(listener));
    }
    config.listeners = std::move(listeners);
  }
  if (!overrides.rules.empty()) {
    for (auto& listener : config.listeners) {
      listener.rules = overrides.rules;
    }
  }
  if (overrides.admin) {
    auto admin = parseAdminAddress(*overrides.admin);
    if (!admin.ok()) {
      return Error{"--admin " + admin.error().message};
    }
    admin->allow_public = config.admin.allow_public;
    config.admin = std::move(admin).value();
  }
  if (overrides.allow_public) {
    for (auto& listener : config.listeners) {
      listener.allow_public = true;
    }
    config.admin.allow_public = true;
  }
  if (overrides.workers) {
    if (*overrides.workers > 1024) {
      return Error{"--workers: at most 1024"};
    }
    config.workers = *overrides.workers;
  }
  if (overrides.log_level) {
    static const std::set<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                  "error", "critical", "off"};
    if (kLevels.count(*overrides.log_level) == 0) {
      return Error{"--log-level: expected trace, debug, info, warn, error, critical or off"};
    }
    config.log.level = *overrides.log_level;
  }
  if (overrides.log_format) {
    config.log.format = *overrides.log_format;
  }
  return Ok{};
}

Status validateConfig(const ProxyConfig& config) {
  if (config.listeners.empty()) {
    return Error{config.source + ": no listener (give one in the config or with --listen)"};
  }
  if (config.sinks.empty()) {
    return Error{config.source + ": no sink (give one in the config or with --sink)"};
  }
  std::set<std::string> names;
  for (const auto& sink : config.sinks) {
    if (!names.insert(sink.name).second) {
      return Error{where(sink.pos, "--sink") + "two sinks are named '" + sink.name + "'"};
    }
  }
  names.clear();
  std::set<std::string> addresses;
  for (const auto& listener : config.listeners) {
    if (!names.insert(listener.name).second) {
      return Error{where(listener.pos, "--listen") + "two listeners are named '" + listener.name +
                   "'"};
    }
    const std::string url = listener.address.url();
    if (!(listener.address.kind == Address::Kind::Tcp && listener.address.port == 0) &&
        !addresses.insert(url).second) {
      return Error{where(listener.listen_pos, "--listen") + "two listeners on " + url};
    }
    if (listener.sinks.empty()) {
      return Error{where(listener.pos, "--listen") + "listener '" + listener.name +
                   "' feeds no sink"};
    }
    for (const auto& sink : listener.sinks) {
      if (config.findSink(sink) == nullptr) {
        return Error{where(listener.pos, "--listen") + "listener '" + listener.name +
                     "': no sink named '" + sink + "'"};
      }
    }
    if (listener.address.tls && listener.tls.cert_file.empty()) {
      return Error{where(listener.listen_pos, "--listen") + url +
                   ": a TLS listener needs a certificate and key (a `tls:` block in the config "
                   "file)"};
    }
    if (listener.http.ack == HttpListenerConfig::Ack::Sink) {
      for (const auto& name : listener.sinks) {
        const SinkConfig* sink = config.findSink(name);
        if (sink != nullptr && !sink->address.http) {
          return Error{where(listener.pos, "--listen") + "listener '" + listener.name +
                       "': `ack: sink` needs every sink it feeds to be http:// or https://, and '" +
                       name + "' is not"};
        }
      }
    }
    if (!listener.allow_public && !isLocalOnly(listener.address)) {
      return Error{
          where(listener.listen_pos, "--listen " + url + ":") + url +
          " is not a loopback address; binding it exposes the proxy to the network, " +
          (listener.listen_pos.file.empty() ? "add --allow-public" : "set `allow_public: true`") +
          " to mean it"};
    }
  }
  // The admin endpoint shows counts, rule names and sink addresses: nothing secret, but a map of
  // the deployment that has no business on a public interface unless someone decided so.
  if (config.admin.enabled && !config.admin.allow_public && !isLocalOnly(config.admin.address)) {
    const std::string url = config.admin.address.url();
    return Error{
        where(config.admin.pos, "--admin:") + url +
        " is not a loopback address; the admin endpoint would be reachable from the "
        "network, " +
        (config.admin.pos.file.empty() ? "add --allow-public" : "set `admin.allow_public: true`") +
        " to mean it"};
  }
  return Ok{};
}

bool isSinkAddressError(const Error& error) {
  return error.message.find(": sinks.address: ") != std::string::npos ||
         error.message.starts_with("--sink ");
}

} // namespace scrub::config
