#pragma once

// The proxy's configuration: what it listens on, which rules each listener applies, which sinks
// it feeds, and the limits that keep memory bounded. Loaded from YAML (`config/scrubproxy.yaml`
// is the documented example and, byte for byte, the embedded default), then adjusted by the
// `scrubproxy run` flags (applyOverrides) and checked as a whole (validateConfig).
//
// The control plane: every failure is an Error carrying `file:line:col: message` (or the flag
// it concerns); nothing here throws to the caller, opens a socket or starts a thread. Unknown
// keys are errors. Scalars may say `${env:NAME}` or `${file:PATH}` instead of holding a secret.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/result.h"

namespace scrub::config {

// Where a listener binds or a sink writes.
struct Address {
  enum class Kind : uint8_t { Tcp, Unix, Stdout };
  Kind kind = Kind::Tcp;
  std::string host;   // Tcp: an IP literal or `localhost` (sinks: also a DNS name), no brackets
  uint16_t port = 0;  // Tcp: 0 lets the kernel choose (listeners only)
  std::string path;   // Unix: the socket's path
  bool http = false;  // Tcp: HTTP/1.1 (`http://`, `https://`)
  bool tls = false;   // Tcp: TLS (`tls://`, `https://`)
  std::string target; // HTTP sinks: the request path and query, at least "/"

  // Canonical text: `tcp://127.0.0.1:5170`, `tls://[::1]:6514`, `http://127.0.0.1:8080`,
  // `https://logs.example.org:443/loki/api/v1/push`, `unix:///run/x.sock`, `stdout`.
  std::string url() const;
  bool operator==(const Address&) const = default;
};

// `tcp://HOST:PORT`, `tls://HOST:PORT`, `http://HOST:PORT`, `https://HOST:PORT` or
// `unix:///PATH`. The error says what is wrong, without a position.
Result<Address> parseListenAddress(std::string_view url);
// `stdout`, `tcp://HOST:PORT`, `tls://HOST:PORT` (a port other than 0), or an HTTP endpoint
// `http://HOST[:PORT]/PATH` / `https://HOST[:PORT]/PATH` (ports 80 / 443 by default).
Result<Address> parseSinkAddress(std::string_view url);
// Loopback IPs (127.0.0.0/8, ::1), `localhost` and unix sockets: reachable only from this host.
bool isLocalOnly(const Address& address);

// `64MiB`, `512KiB`, `1GiB`, `10MB`, `4096`: a byte count.
Result<uint64_t> parseSize(std::string_view text);
// `250ms`, `10s`, `5m`, `1h`, `0`: a duration.
Result<std::chrono::milliseconds> parseDuration(std::string_view text);

enum class LogFormat : uint8_t { Text, Json };

struct LogConfig {
  std::string level = "info"; // trace, debug, info, warn, error, critical, off
  LogFormat format = LogFormat::Text;
  std::chrono::milliseconds stats_interval{60000}; // 0: counts only at stop
};

struct Limits {
  uint64_t max_line_bytes = 1 << 20;
  // The work one line may cost (filters::FilterLimits): bytes run through detector patterns,
  // and bytes of strings decoded as JSON. A line over either is dropped as over_budget.
  uint64_t max_scan_bytes_per_line = 16 << 20;
  uint64_t max_decoded_bytes_per_line = 1 << 20;
  uint64_t max_connections = 10000;
  std::chrono::milliseconds idle_timeout{300000}; // 0: never
  std::chrono::milliseconds shutdown_timeout{10000};
};

// The client side of TLS (`tls://` and `https://` sinks). The peer is always verified unless
// `insecure_skip_verify` says otherwise, and then a warning is logged at every start.
struct TlsClientConfig {
  std::string ca_file;     // PEM bundle to verify the sink against; empty: the system's CAs
  std::string cert_file;   // client certificate chain (PEM), with key_file; optional
  std::string key_file;    // its private key (PEM)
  std::string server_name; // SNI and the name verified; empty: the address's host
  bool insecure_skip_verify = false;
};

// The server side of TLS (`tls://` and `https://` listeners). Files are read again on SIGHUP.
struct TlsServerConfig {
  std::string cert_file;           // certificate chain (PEM), required
  std::string key_file;            // private key (PEM), required
  std::string client_ca_file;      // set: clients must present a certificate signed by these CAs
  std::string min_version = "1.2"; // "1.2" or "1.3"
};

// How an HTTP sink packs a batch of lines into one request body.
enum class HttpSinkFormat : uint8_t {
  Ndjson,            // one JSON line per record (application/x-ndjson)
  JsonArray,         // [record, record, ...] (application/json)
  ElasticsearchBulk, // the _bulk API: an action line before each record
  Loki,              // the push API: {"streams":[{"stream":{labels},"values":[[ns, line]...]}]}
  SplunkHec,         // HTTP Event Collector: {"event": record} objects, concatenated
};
std::string_view formatName(HttpSinkFormat format);

struct HttpSinkConfig {
  HttpSinkFormat format = HttpSinkFormat::Ndjson;
  uint64_t batch_records = 1000;                  // a request carries at most this many
  std::chrono::milliseconds flush_interval{1000}; // a partial batch leaves after this long
  std::chrono::milliseconds request_timeout{10000};
  bool gzip = false;                                        // Content-Encoding: gzip
  std::vector<std::pair<std::string, std::string>> headers; // values may be ${env:…}
  // Names of the headers whose value was written in the file as it is, with no ${env:…} or
  // ${file:…} in it: `scrubproxy doctor` reports the credential-like ones (the values are
  // expanded by then, so only the loader can tell).
  std::vector<std::string> literal_headers;
  std::string index = "logs"; // elasticsearch: the `_index` of the action
  std::vector<std::pair<std::string, std::string>> labels{{"job", "scrubproxy"}}; // loki stream
  std::string sourcetype = "_json"; // splunk: the events' sourcetype
};

struct SinkConfig {
  std::string name;
  Address address;
  uint64_t max_buffer_bytes = 64 << 20; // all workers together
  unsigned high_watermark_percent = 75; // of max_buffer_bytes
  unsigned low_watermark_percent = 25;
  uint64_t batch_bytes = 256 << 10; // the most one write (HTTP: one request body) carries
  std::chrono::milliseconds reconnect_min{100}; // also the first retry delay of an HTTP batch
  std::chrono::milliseconds reconnect_max{5000};
  std::chrono::milliseconds connect_timeout{5000};
  TlsClientConfig tls; // tls:// and https:// only
  HttpSinkConfig http; // http:// and https:// only
  SourcePos pos;       // where it was declared; empty file when it came from a flag
};

// One credential an HTTP listener accepts. `id` names it in the log; `secret` is never logged.
struct HttpApiKey {
  std::string id;
  std::string secret; // at least kMinApiKeyBytes
};
struct HttpBasicUser {
  std::string user;
  std::string password; // at least kMinPasswordBytes
};
inline constexpr size_t kMinApiKeyBytes = 32;
inline constexpr size_t kMinPasswordBytes = 12;

// The HTTP side of a listener (only used when `address.http`). No credential configured: no
// authentication (loopback binds only, like every listener by default).
struct HttpListenerConfig {
  std::string path = "/v1/logs";
  uint64_t max_body_bytes = 8 << 20;          // as received (413 above)
  uint64_t max_decompressed_bytes = 32 << 20; // after gzip (413 above)
  uint64_t max_header_bytes = 16 << 10;       // request line + headers (431 above)
  // A request must arrive whole within this time of its first byte (408 after): a client that
  // trickles bytes to keep a connection busy is cut off. 0: no limit but the idle timeout.
  std::chrono::milliseconds request_timeout{30000};
  std::vector<HttpApiKey> api_keys; // `Authorization: Bearer KEY` or `api_key_header`
  std::string api_key_header = "X-API-Key";
  std::vector<HttpBasicUser> basic_users;
  unsigned max_auth_failures = 10; // per peer address and window, then 429
  std::chrono::milliseconds auth_failure_window{60000};
  // When the 200 is sent: `queue` once the records are in the sink queues, `sink` once every
  // HTTP sink the listener feeds acknowledged them (end to end, memory only).
  enum class Ack : uint8_t { Queue, Sink } ack = Ack::Queue;

  bool authRequired() const { return !api_keys.empty() || !basic_users.empty(); }
};

struct ListenerConfig {
  std::string name;
  Address address;
  std::vector<std::string> rules; // specs for rules::loadRules; empty: the default pack
  std::vector<std::string> sinks; // names of ProxyConfig::sinks
  bool allow_public = false;      // a non-loopback bind must be asked for
  HttpListenerConfig http;        // `http:` block, for http:// and https:// listeners
  TlsServerConfig tls;            // `tls:` block, required for tls:// and https:// listeners
  SourcePos pos;
  SourcePos listen_pos; // of the `listen:` value
};

// PII-attempt alerts: when detectors fire inside records, a summary per listener at most once
// per window, as a log warning and, when `webhook_url` is set, a POST of Slack-compatible JSON.
struct AlertsConfig {
  std::string webhook_url; // a secret: only from ${env:…} or ${file:…}; empty: log only
  std::string ca_file;     // to verify an https:// webhook; empty: the system's CAs
  std::chrono::milliseconds window{300000};
  uint64_t max_ids = 20; // ids (`_id`, `_xform_id`) listed per alert
};

// The admin endpoint (/metrics, /healthz, /readyz, /rules), served by the main thread. On by
// default on loopback; a non-loopback bind must be asked for, like a listener's.
inline constexpr uint16_t kDefaultAdminPort = 9464;

struct AdminConfig {
  bool enabled = true;
  Address address{Address::Kind::Tcp, "127.0.0.1", kDefaultAdminPort, {}, /*http=*/true};
  bool allow_public = false;
  // Set when a file or a flag named the address: failing to bind it then stops start-up, while
  // the default port being taken (a second proxy on the host) only turns the endpoint off.
  bool configured = false;
  SourcePos pos; // of `admin.listen`; empty file when it came from the flag or the default
};

// `HOST:PORT` (an IP address or localhost; port 0: any free port), `http://HOST:PORT`, or `off`.
// The error says what is wrong, without a position.
Result<AdminConfig> parseAdminAddress(std::string_view text);

struct ProxyConfig {
  std::string source;   // the file it came from, or kDefaultConfigName
  unsigned workers = 0; // 0: one per core
  LogConfig log;
  Limits limits;
  std::vector<ListenerConfig> listeners;
  std::vector<SinkConfig> sinks;
  AlertsConfig alerts;
  AdminConfig admin;

  const SinkConfig* findSink(std::string_view name) const;
};

struct LoadOptions {
  // Where `${env:NAME}` is read; tests replace it. Default: std::getenv.
  std::function<const char*(const char*)> get_env;
};

Result<ProxyConfig> loadConfig(const std::string& path, const LoadOptions& = {});
// `file_name` is used in messages and to resolve relative `${file:…}` paths.
Result<ProxyConfig> loadConfigFromText(std::string_view text, std::string_view file_name,
                                       const LoadOptions& = {});

// Replaces `${env:NAME}` and `${file:PATH}` in `text`; `$$` is a literal `$`. A relative PATH is
// resolved from `base_dir`. The error names the reference, never the value it would have had.
Result<std::string> expandReferences(std::string_view text, const std::string& base_dir,
                                     const LoadOptions& = {});

// What `scrubproxy run` flags say. Flags win over the file:
// - `--listen` (repeatable) replaces the listeners; each new one applies `--rules` (or the first
//   file listener's rules) and feeds every sink;
// - `--sink` (repeatable) replaces the sinks, and every listener feeds all of them;
// - `--rules` (repeatable, loaded as one set) replaces every listener's rules;
// - `--allow-public` allows a non-loopback bind for every listener and the admin endpoint;
// - `--admin HOST:PORT|off` replaces `admin.listen`.
struct Overrides {
  std::vector<std::string> listen;
  std::vector<std::string> sinks;
  std::vector<std::string> rules;
  std::optional<unsigned> workers;
  std::optional<std::string> log_level;
  std::optional<LogFormat> log_format;
  bool allow_public = false;
  std::optional<std::string> admin; // `--admin HOST:PORT|off`
};

Status applyOverrides(ProxyConfig& config, const Overrides& overrides);

// Whole-config checks that flags can change: at least one listener and one sink, every sink a
// listener names exists, names unique, no two listeners on one address, and non-loopback binds
// (listeners and the admin endpoint) only where allowed.
Status validateConfig(const ProxyConfig& config);

// Whether an error from this module is about a sink address (`sinks.address:` in a file,
// `--sink` on the command line): start-up reports those with their own exit code.
bool isSinkAddressError(const Error& error);

} // namespace scrub::config
