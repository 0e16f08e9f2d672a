// The embedded default configuration. Keep it identical to config/scrubproxy.yaml (a test
// compares them byte for byte): edit the example, then paste it here.

#include "config/default_config.h"

namespace scrub::config {
namespace {

constexpr std::string_view kText =
    R"yaml(# scrubproxy configuration. This file is the documented example and, byte for byte, the
# configuration `scrubproxy run` uses when it is given no --config. Flags override it:
# --listen, --sink, --rules, --workers, --log-level, --log-format, --allow-public.
#
# A value may name a secret instead of holding it: ${env:NAME} is replaced by an environment
# variable, ${file:PATH} by a file's content (one trailing newline removed; a relative PATH is
# relative to this file's folder). $$ is a literal $. Unknown keys are errors.
version: 1

workers: 0                  # worker threads, each with its own event loop; 0: one per core

log:                        # the proxy's own log, on stderr: counts and ids, never payload
  level: info               # trace | debug | info | warn | error | critical | off
  format: text              # text | json
  stats_interval: 60s       # line and drop counts at this interval when they changed; 0: at stop

limits:
  max_line_bytes: 1MiB      # a longer line is dropped and counted, never forwarded in part
  max_scan_bytes_per_line: 16MiB    # per-line work budget: bytes run through detector patterns
  max_decoded_bytes_per_line: 1MiB  # ... and JSON decoded from strings; over it: over_budget
  max_connections: 10000    # over it, a new connection is closed at once
  idle_timeout: 5m          # a client that sends nothing for this long is disconnected; 0: never
  shutdown_timeout: 10s     # on SIGTERM/SIGINT: how long queued lines may take to reach the sinks

listeners:
  - name: runners
    listen: tcp://127.0.0.1:5170  # or unix:///run/scrubproxy/scrubproxy.sock; a non-loopback
                                  # address also needs `allow_public: true`
    rules: [openfn-retry-ids]     # rule files or shipped packs, loaded as one rule set
    sinks: [stdout]               # every line that passes goes to each of these
  - name: webhooks
    listen: http://127.0.0.1:8088 # POST /v1/logs: NDJSON, or JSON (an object or an array);
                                  # https:// with a `tls:` block; `http:` for auth and limits
    rules: [openfn-retry-ids]
    sinks: [stdout]

sinks:
  - name: stdout
    address: stdout           # or tcp://HOST:PORT: NDJSON, one connection per worker
    max_buffer_bytes: 64MiB   # the most this sink holds, shared evenly by the workers
    high_watermark: 75%       # above it, every connection feeding this sink stops reading ...
    low_watermark: 25%        # ... until the queue drains below this
    batch_bytes: 256KiB       # the most one write carries
    reconnect_min: 100ms      # tcp: the first retry delay; it doubles, with jitter, up to
    reconnect_max: 5s         # this
    connect_timeout: 5s       # tcp: an attempt that takes longer fails and is retried

# Not enabled here; see README.md ("Running the proxy") for every key.
#
# admin:                      # /metrics, /healthz, /readyz, /rules; on by default at this address
#   listen: 127.0.0.1:9464    # or `off`; a non-loopback address also needs `allow_public: true`
#
# An HTTPS listener for webhooks from other hosts, authenticated, and an HTTPS sink (Loki):
#   - name: webhooks
#     listen: https://0.0.0.0:8443
#     allow_public: true
#     tls: {cert_file: /etc/scrubproxy/tls.crt, key_file: /etc/scrubproxy/tls.key}
#     http:
#       api_keys: [{id: kobo, key: "${env:SCRUBPROXY_KOBO_KEY}"}]
#     rules: [kobo-redact, pii-detectors]
#     sinks: [loki]
# sinks:
#   - name: loki
#     address: https://loki.example.org/loki/api/v1/push
#     http: {format: loki, labels: {job: openfn}}
#
# alerts:                     # when detectors fire inside records: a warning per listener and
#   webhook_url: ${env:SCRUBPROXY_ALERT_WEBHOOK}  # window, and a Slack-compatible POST
#   window: 5m
)yaml";

} // namespace

std::string_view defaultConfigText() {
  return kText;
}

} // namespace scrub::config
