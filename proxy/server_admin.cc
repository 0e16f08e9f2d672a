// The admin endpoint's pages: what the Server knows, as Prometheus text and small JSON documents.
// Runs on the main loop's thread; reads the workers' counters (single-writer relaxed atomics, and
// the per-rule counters under their mutex). Labels and fields carry listener, sink, rule and
// reason names from the configuration and rule files only — never a key or value from payload.

#include <fmt/format.h>

#include <ctime>
#include <map>

#include "filters/json_escape.h"
#include "proxy/prometheus_text.h"
#include "proxy/server.h"

namespace scrub::proxy {
namespace {

std::string isoTime(std::chrono::system_clock::time_point at) {
  const std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

double unixSeconds(std::chrono::system_clock::time_point at) {
  return std::chrono::duration<double>(at.time_since_epoch()).count();
}

void appendField(std::string& out, std::string_view key, std::string_view value) {
  filters::appendJsonString(out, key);
  out.push_back(':');
  filters::appendJsonString(out, value);
}

// Per-rule counts of one listener, summed over the workers by rule name (workers may briefly
// hold different generations after a reload; a name is the same rule in both).
struct RuleTotals {
  std::map<std::string, filters::KeepRuleCounters> keep;
  std::map<std::string, filters::DetectorCounters> detectors;
};

} // namespace

AdminResponse Server::adminPage(std::string_view path) {
  if (path == "/metrics") {
    return {200, "text/plain; version=0.0.4; charset=utf-8", metricsText()};
  }
  if (path == "/healthz") {
    return {200, "text/plain; charset=utf-8", "ok\n"};
  }
  if (path == "/readyz") {
    return readyPage();
  }
  if (path == "/rules") {
    return {200, "application/json", rulesJson()};
  }
  return {404, "text/plain; charset=utf-8", "not found: /metrics /healthz /readyz /rules\n"};
}

std::string Server::metricsText() {
  PrometheusText m;
  const auto& listeners = config_.listeners;
  const auto& sinks = config_.sinks;

  // --- listeners ---
  struct ListenerSums {
    uint64_t lines_in = 0, lines_out = 0, bytes_in = 0, bytes_out = 0, unmatched = 0,
             key_rejected = 0, tls_handshake_failures = 0;
    std::array<uint64_t, filters::kDropReasonCount> dropped{};
    RuleTotals rules;
  };
  std::vector<ListenerSums> ls(listeners.size());
  for (const auto& worker : worker_objects_) {
    for (size_t l = 0; l < listeners.size(); ++l) {
      ListenerStats& w = worker->listenerStats(l);
      auto& sum = ls[l];
      sum.lines_in += w.lines_in.get();
      sum.lines_out += w.lines_out.get();
      sum.bytes_in += w.bytes_in.get();
      sum.bytes_out += w.bytes_out.get();
      sum.unmatched += w.fields_unmatched.get();
      sum.key_rejected += w.fields_key_rejected.get();
      sum.tls_handshake_failures += w.tls_handshake_failures.get();
      for (size_t i = 0; i < sum.dropped.size(); ++i) {
        sum.dropped[i] += w.dropped[i].get();
      }
      std::lock_guard lock(w.mutex);
      if (!w.rules) {
        continue;
      }
      for (size_t i = 0; i < w.keep.size() && i < w.rules->keep.size(); ++i) {
        auto& k = sum.rules.keep[w.rules->keep[i].name];
        k.kept += w.keep[i].kept;
        k.contract_failed += w.keep[i].contract_failed;
      }
      for (size_t i = 0; i < w.detectors.size() && i < w.rules->detectors.size(); ++i) {
        auto& d = sum.rules.detectors[w.rules->detectors[i].name];
        d.hits += w.detectors[i].hits;
        d.removed += w.detectors[i].removed;
        d.masked += w.detectors[i].masked;
        d.hashed += w.detectors[i].hashed;
      }
    }
  }
  // Rules of the current generation appear with 0 before any line reached them.
  for (size_t l = 0; l < listeners.size(); ++l) {
    const auto rules = rule_slots_[l]->get();
    for (const auto& keep : rules->keep) {
      ls[l].rules.keep[keep.name];
    }
    for (const auto& detector : rules->detectors) {
      ls[l].rules.detectors[detector.name];
    }
  }

  const auto perListener = [&](const char* name, const char* help, auto field) {
    m.family(name, "counter", help);
    for (size_t l = 0; l < listeners.size(); ++l) {
      m.sample(name, {{"listener", listeners[l].name}}, field(ls[l]));
    }
  };
  perListener("scrubproxy_listener_lines_in_total",
              "Lines (records) received on the listener, forwarded or not.",
              [](const ListenerSums& s) { return s.lines_in; });
  perListener("scrubproxy_listener_lines_out_total",
              "Lines that passed the rules and were handed to the listener's sinks.",
              [](const ListenerSums& s) { return s.lines_out; });
  perListener("scrubproxy_listener_bytes_in_total", "Bytes of lines received on the listener.",
              [](const ListenerSums& s) { return s.bytes_in; });
  perListener("scrubproxy_listener_bytes_out_total",
              "Bytes of lines after filtering, handed to the listener's sinks.",
              [](const ListenerSums& s) { return s.bytes_out; });
  perListener("scrubproxy_tls_handshake_failures_total",
              "tls:// and https:// listeners: connections closed because the TLS handshake failed "
              "(no or an untrusted client certificate, plaintext, no common protocol); each is "
              "logged with OpenSSL's reason.",
              [](const ListenerSums& s) { return s.tls_handshake_failures; });
  m.family("scrubproxy_lines_dropped_total", "counter",
           "Lines not forwarded, by reason (each dropped line has exactly one).");
  for (size_t l = 0; l < listeners.size(); ++l) {
    for (size_t i = 1; i < filters::kDropReasonCount; ++i) {
      m.sample("scrubproxy_lines_dropped_total",
               {{"listener", listeners[l].name}, {"reason", filters::kDropReasonNames[i]}},
               ls[l].dropped[i]);
    }
  }
  m.family("scrubproxy_fields_removed_unnamed_total", "counter",
           "Allowlist: fields removed because no keep rule names them (reason unmatched), or "
           "because a key only a wildcard let through is no identifier (reason key_rejected).");
  for (size_t l = 0; l < listeners.size(); ++l) {
    m.sample("scrubproxy_fields_removed_unnamed_total",
             {{"listener", listeners[l].name}, {"reason", "unmatched"}}, ls[l].unmatched);
    m.sample("scrubproxy_fields_removed_unnamed_total",
             {{"listener", listeners[l].name}, {"reason", "key_rejected"}}, ls[l].key_rejected);
  }
  m.family("scrubproxy_rule_fields_total", "counter",
           "Per keep rule: values it kept (result kept) and values on its path whose text broke "
           "its value contract and were removed (result contract_failed). Since the last reload.");
  for (size_t l = 0; l < listeners.size(); ++l) {
    for (const auto& [rule, c] : ls[l].rules.keep) {
      m.sample("scrubproxy_rule_fields_total",
               {{"listener", listeners[l].name}, {"rule", rule}, {"result", "kept"}}, c.kept);
      m.sample("scrubproxy_rule_fields_total",
               {{"listener", listeners[l].name}, {"rule", rule}, {"result", "contract_failed"}},
               c.contract_failed);
    }
  }
  m.family("scrubproxy_detector_hits_total", "counter",
           "Per deny detector: fields (or keys) it fired on. Since the last reload.");
  for (size_t l = 0; l < listeners.size(); ++l) {
    for (const auto& [rule, c] : ls[l].rules.detectors) {
      m.sample("scrubproxy_detector_hits_total", {{"listener", listeners[l].name}, {"rule", rule}},
               c.hits);
    }
  }
  m.family("scrubproxy_detector_fields_total", "counter",
           "Per deny detector: fields it removed, masked or hashed. Since the last reload.");
  for (size_t l = 0; l < listeners.size(); ++l) {
    for (const auto& [rule, c] : ls[l].rules.detectors) {
      for (const auto& [action, value] : {std::pair<const char*, uint64_t>{"removed", c.removed},
                                          {"masked", c.masked},
                                          {"hashed", c.hashed}}) {
        m.sample("scrubproxy_detector_fields_total",
                 {{"listener", listeners[l].name}, {"rule", rule}, {"action", action}}, value);
      }
    }
  }

  // --- rules ---
  m.family("scrubproxy_rules_reloads_total", "counter",
           "Rule reloads (SIGHUP or a watched file changed), by result; a failed one keeps the "
           "previous rules.");
  m.sample("scrubproxy_rules_reloads_total", {{"result", "success"}}, reloads_ok_);
  m.sample("scrubproxy_rules_reloads_total", {{"result", "failure"}}, reloads_failed_);
  m.family("scrubproxy_rules_info", "gauge",
           "The rule set each listener applies now: its name and fingerprint (hash of the loaded "
           "files); always 1.");
  for (size_t l = 0; l < listeners.size(); ++l) {
    const auto rules = rule_slots_[l]->get();
    m.sample("scrubproxy_rules_info",
             {{"listener", listeners[l].name},
              {"rules", rules->name},
              {"fingerprint", rules->fingerprint()}},
             uint64_t{1});
  }
  m.family("scrubproxy_rules_loaded_timestamp_seconds", "gauge",
           "When each listener's current rules were loaded (Unix time).");
  for (size_t l = 0; l < listeners.size(); ++l) {
    m.sample("scrubproxy_rules_loaded_timestamp_seconds", {{"listener", listeners[l].name}},
             unixSeconds(rules_loaded_at_[l]));
  }

  // --- PII-attempt alerts ---
  m.family("scrubproxy_pii_attempt_records_total", "counter",
           "Records in which a deny detector fired (a job tried to log personal data): what the "
           "alerts report. Since start.");
  m.family("scrubproxy_alerts_total", "counter",
           "PII-attempt alerts raised: one per listener per alert window with attempts, logged as "
           "a warning and, with a webhook, posted. Since start.");
  for (size_t l = 0; l < listeners.size(); ++l) {
    const auto totals = pii_attempts_->totals(l);
    m.sample("scrubproxy_pii_attempt_records_total", {{"listener", listeners[l].name}},
             totals.records);
    m.sample("scrubproxy_alerts_total", {{"listener", listeners[l].name}}, totals.alerts);
  }
  m.family("scrubproxy_alert_webhook_posts_total", "counter",
           "Alerts posted to the webhook, by result: delivered (a 2xx, retries included) or "
           "failed (given up after the retries, or at shutdown). 0 without a webhook.");
  m.sample("scrubproxy_alert_webhook_posts_total", {{"result", "delivered"}},
           webhook_ ? webhook_->delivered() : uint64_t{0});
  m.sample("scrubproxy_alert_webhook_posts_total", {{"result", "failed"}},
           webhook_ ? webhook_->failed() : uint64_t{0});

  // --- connections ---
  uint64_t accepted = 0, rejected = 0, auth_failures = 0, http_rejected = 0, http_busy = 0;
  for (const auto& worker : worker_objects_) {
    WorkerStats& w = worker->stats();
    accepted += w.connections_accepted.get();
    rejected += w.connections_rejected.get();
    auth_failures += w.http_auth_failures.get();
    http_rejected += w.http_rejected.get();
    http_busy += w.http_busy.get();
  }
  m.family("scrubproxy_connections_active", "gauge", "Client connections open now.");
  m.sample("scrubproxy_connections_active", {},
           shared_ ? shared_->open_connections.load() : uint64_t{0});
  m.family("scrubproxy_connections_accepted_total", "counter", "Client connections accepted.");
  m.sample("scrubproxy_connections_accepted_total", {}, accepted);
  m.family("scrubproxy_connections_rejected_total", "counter",
           "Client connections closed at once: over limits.max_connections.");
  m.sample("scrubproxy_connections_rejected_total", {}, rejected);
  m.family("scrubproxy_http_requests_rejected_total", "counter",
           "HTTP ingress requests answered with an error, by reason.");
  m.sample("scrubproxy_http_requests_rejected_total", {{"reason", "auth"}}, auth_failures);
  m.sample("scrubproxy_http_requests_rejected_total", {{"reason", "busy"}}, http_busy);
  m.sample("scrubproxy_http_requests_rejected_total", {{"reason", "invalid"}}, http_rejected);

  // --- sinks ---
  struct SinkSums {
    uint64_t queued = 0, delivered = 0, bytes = 0, overflow = 0, at_risk = 0, resent = 0, lost = 0,
             undelivered = 0, connects = 0, connect_failures = 0, failures = 0, batches_ok = 0,
             batches_failed = 0, batches_dropped = 0, lines_rejected = 0, retries = 0,
             queue_bytes = 0, connected = 0, shards_connected_once = 0, latency_count = 0,
             latency_sum_ns = 0;
    std::array<uint64_t, kLatencyBucketsSeconds.size() + 1> buckets{};
  };
  std::vector<SinkSums> ss(sinks.size());
  for (const auto& worker : worker_objects_) {
    for (size_t s = 0; s < sinks.size(); ++s) {
      SinkStats& w = worker->sinkStats(s);
      auto& sum = ss[s];
      sum.queued += w.lines_queued.get();
      sum.delivered += w.lines_delivered.get();
      sum.bytes += w.bytes_delivered.get();
      sum.overflow += w.lines_overflow.get();
      sum.at_risk += w.lines_at_risk.get();
      sum.resent += w.lines_resent.get();
      sum.lost += w.lines_lost.get();
      sum.undelivered += w.lines_undelivered.get();
      const uint64_t connects = w.connects.get();
      sum.connects += connects;
      sum.shards_connected_once += connects > 0 ? 1 : 0;
      sum.connect_failures += w.connect_failures.get();
      sum.failures += w.failures.get();
      sum.batches_ok += w.batches_delivered.get();
      sum.batches_failed += w.batches_failed.get();
      sum.batches_dropped += w.batches_dropped.get();
      sum.lines_rejected += w.lines_rejected.get();
      sum.retries += w.retries.get();
      sum.queue_bytes += w.queue_bytes.get();
      sum.connected += w.connected.get();
      for (size_t b = 0; b < sum.buckets.size(); ++b) {
        sum.buckets[b] += w.latency.buckets[b].get();
      }
      sum.latency_count += w.latency.count.get();
      sum.latency_sum_ns += w.latency.sum_ns.get();
    }
  }
  const auto perSink = [&](const char* name, const char* type, const char* help, auto field) {
    m.family(name, type, help);
    for (size_t s = 0; s < sinks.size(); ++s) {
      m.sample(name, {{"sink", sinks[s].name}}, field(ss[s]));
    }
  };
  perSink("scrubproxy_sink_lines_queued_total", "counter", "Lines accepted into the sink's queue.",
          [](const SinkSums& s) { return s.queued; });
  perSink("scrubproxy_sink_lines_delivered_total", "counter",
          "Lines written to the sink (its socket, or stdout).",
          [](const SinkSums& s) { return s.delivered; });
  perSink("scrubproxy_sink_bytes_delivered_total", "counter", "Bytes written to the sink.",
          [](const SinkSums& s) { return s.bytes; });
  perSink("scrubproxy_sink_batches_delivered_total", "counter",
          "Writes to the sink that completed.", [](const SinkSums& s) { return s.batches_ok; });
  perSink("scrubproxy_sink_batches_failed_total", "counter",
          "Writes to the sink that failed (their lines are sent again, or given up at shutdown).",
          [](const SinkSums& s) { return s.batches_failed; });
  perSink("scrubproxy_sink_batches_dropped_total", "counter",
          "HTTP sinks: batches the sink refused with a 4xx other than 408/429 (not sent again).",
          [](const SinkSums& s) { return s.batches_dropped; });
  perSink("scrubproxy_sink_lines_rejected_total", "counter",
          "HTTP sinks: lines of the batches the sink refused.",
          [](const SinkSums& s) { return s.lines_rejected; });
  perSink("scrubproxy_sink_requests_retried_total", "counter",
          "HTTP sinks: requests sent again after a failed attempt (error, timeout, 408, 429, 5xx).",
          [](const SinkSums& s) { return s.retries; });
  perSink("scrubproxy_sink_lines_retried_total", "counter",
          "Lines of failed writes queued again for the next connection (may arrive twice).",
          [](const SinkSums& s) { return s.resent; });
  perSink("scrubproxy_sink_lines_at_risk_total", "counter",
          "Lines written shortly before a connection failed: possibly lost in transit.",
          [](const SinkSums& s) { return s.at_risk; });
  perSink("scrubproxy_sink_lines_overflow_total", "counter",
          "Lines refused because the sink's queue was full.",
          [](const SinkSums& s) { return s.overflow; });
  perSink("scrubproxy_sink_lines_lost_total", "counter",
          "Lines certainly not delivered: the sink failed for good.",
          [](const SinkSums& s) { return s.lost; });
  perSink("scrubproxy_sink_lines_undelivered_total", "counter",
          "Lines still held when the shutdown deadline passed.",
          [](const SinkSums& s) { return s.undelivered; });
  perSink("scrubproxy_sink_connects_total", "counter", "TCP connections established to the sink.",
          [](const SinkSums& s) { return s.connects; });
  perSink("scrubproxy_sink_reconnects_total", "counter",
          "TCP connections established after an earlier one (of the same worker) was lost.",
          [](const SinkSums& s) { return s.connects - s.shards_connected_once; });
  perSink("scrubproxy_sink_connect_failures_total", "counter",
          "TCP connection attempts to the sink that failed.",
          [](const SinkSums& s) { return s.connect_failures; });
  perSink("scrubproxy_sink_connection_failures_total", "counter",
          "Established TCP connections to the sink that failed.",
          [](const SinkSums& s) { return s.failures; });
  perSink("scrubproxy_sink_queue_bytes", "gauge",
          "Bytes the sink's queues hold now (queued and in flight, all workers).",
          [](const SinkSums& s) { return s.queue_bytes; });
  perSink("scrubproxy_sink_connections_up", "gauge",
          "Workers whose connection to the sink is up now (stdout: 1 per worker until it fails).",
          [](const SinkSums& s) { return s.connected; });

  m.family("scrubproxy_sink_latency_seconds", "histogram",
           "Time from a line's receipt to the completed write to the sink (each chunk of lines "
           "counted with its oldest line's time: an upper bound).");
  for (size_t s = 0; s < sinks.size(); ++s) {
    uint64_t cumulative = 0;
    for (size_t b = 0; b < ss[s].buckets.size(); ++b) {
      cumulative += ss[s].buckets[b];
      const std::string le =
          b < kLatencyBucketsSeconds.size() ? fmt::format("{}", kLatencyBucketsSeconds[b]) : "+Inf";
      m.sample("scrubproxy_sink_latency_seconds_bucket", {{"sink", sinks[s].name}, {"le", le}},
               cumulative);
    }
    m.sample("scrubproxy_sink_latency_seconds_sum", {{"sink", sinks[s].name}},
             static_cast<double>(ss[s].latency_sum_ns) / 1e9);
    m.sample("scrubproxy_sink_latency_seconds_count", {{"sink", sinks[s].name}},
             ss[s].latency_count);
  }
  return m.text();
}

AdminResponse Server::readyPage() {
  // Ready: rules loaded (always, once started), not stopping, and every sink reachable from at
  // least one worker. The detail names sinks and the last failed reload, never payload.
  bool ready = !stopping_;
  std::string sinks_json;
  for (size_t s = 0; s < config_.sinks.size(); ++s) {
    uint64_t up = 0;
    for (const auto& worker : worker_objects_) {
      up += worker->sinkStats(s).connected.get();
    }
    const bool reachable = up > 0;
    ready = ready && reachable;
    sinks_json += sinks_json.empty() ? "{" : ",{";
    appendField(sinks_json, "name", config_.sinks[s].name);
    sinks_json += ",";
    appendField(sinks_json, "address", config_.sinks[s].address.url());
    sinks_json += std::string(",\"reachable\":") + (reachable ? "true" : "false") + "}";
  }
  std::string body = std::string("{\"ready\":") + (ready ? "true" : "false") +
                     ",\"rules_loaded\":true,\"stopping\":" + (stopping_ ? "true" : "false") +
                     ",\"sinks\":[" + sinks_json +
                     "],\"reloads\":{\"success\":" + std::to_string(reloads_ok_) +
                     ",\"failure\":" + std::to_string(reloads_failed_) + ",\"last_error\":";
  if (last_reload_error_.empty()) {
    body += "null";
  } else {
    filters::appendJsonString(body, last_reload_error_);
  }
  body += "}}\n";
  return {ready ? 200 : 503, "application/json", std::move(body)};
}

std::string Server::rulesJson() {
  std::string out = "{\"listeners\":[";
  for (size_t l = 0; l < config_.listeners.size(); ++l) {
    const auto rules = rule_slots_[l]->get();
    out += l == 0 ? "{" : ",{";
    appendField(out, "listener", config_.listeners[l].name);
    out += ",";
    appendField(out, "rules", rules->name);
    out += ",";
    appendField(out, "fingerprint", rules->fingerprint());
    out += ",";
    appendField(out, "loaded_at", isoTime(rules_loaded_at_[l]));
    out += ",\"specs\":[";
    const auto& specs = rule_slots_[l]->specs();
    for (size_t i = 0; i < specs.size(); ++i) {
      out += i == 0 ? "" : ",";
      filters::appendJsonString(out, specs[i]);
    }
    out += "],\"files\":[";
    for (size_t i = 0; i < rules->sources.size(); ++i) {
      out += i == 0 ? "{" : ",{";
      appendField(out, "file", rules->sources[i].file);
      out += ",";
      appendField(out, "sha256", rules->sources[i].sha256);
      out += "}";
    }
    out += "],\"keep_rules\":" + std::to_string(rules->keep.size()) +
           ",\"detectors\":" + std::to_string(rules->detectors.size()) + "}";
  }
  out += "],\"reloads\":{\"success\":" + std::to_string(reloads_ok_) +
         ",\"failure\":" + std::to_string(reloads_failed_) + "}}\n";
  return out;
}

} // namespace scrub::proxy
