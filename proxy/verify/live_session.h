#pragma once

// `scrubproxy verify --live`: a black-box test of a running proxy over TCP. The session listens
// on the capture address (acting as the proxy's sink: a TCP NDJSON sink, or with http:// an
// HTTP sink taking ndjson or json_array POSTs, answered 200), connects to the proxy's listener,
// sends every corpus line, and collects what the proxy forwards until every expected record arrived
// or the deadline passed. Expected records are the lines the same rules forward offline; received
// lines are matched against them exactly (as a multiset of strings) and scanned for canaries.
// Plain blocking sockets with poll() and a deadline: a test tool, not the proxy.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "filters/line_filter.h"
#include "proxy/verify/canary_set.h"
#include "proxy/verify/verify_report.h"
#include "rules/result.h"
#include "rules/rule_set.h"

namespace scrub::verify {

struct TcpAddress {
  std::string host;
  uint16_t port = 0;
  bool http = false; // a capture that acts as an HTTP sink (http://HOST:PORT)
  std::string text() const {
    return (http ? "http://" : "tcp://") + host + ":" + std::to_string(port);
  }
};

// Parses "tcp://HOST:PORT" (HOST may be "[v6]"), and with `allow_http` also "http://HOST:PORT"
// (a path after it is ignored: the capture takes any); an error names what is wrong.
Result<TcpAddress> parseTcpAddress(const std::string& text, bool allow_port_zero,
                                   bool allow_http = false);

struct LiveOptions {
  TcpAddress capture;
  TcpAddress target;
  // A target `http(s)://HOST:PORT/PATH` (the proxy's HTTP ingress) instead of `target`.
  std::string http_target;
  std::string target_api_key;     // for http_target: `Authorization: Bearer …`
  std::string target_ca_file;     // for an https:// http_target; empty: the system's CAs
  bool target_from_stdin = false; // read "tcp://HOST:PORT" from stdin after the capture is bound
  std::chrono::milliseconds deadline{30000};
  filters::FilterLimits limits;
  uint64_t max_listed = 1000;
};

struct MissingRecord {
  std::string corpus;
  uint64_t line = 0;
};

struct LiveResult {
  std::string capture_address; // as bound
  std::string target_address;
  uint64_t lines_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t expected = 0;
  uint64_t received = 0;
  uint64_t matched = 0;
  uint64_t missing = 0;
  uint64_t duplicated = 0;
  uint64_t unexpected = 0; // received lines the offline filter would not produce
  uint64_t capture_connections = 0;
  bool deadline_passed = false;
  double seconds = 0;
  std::vector<MissingRecord> missing_listed; // the first max_listed
  uint64_t leaks_total = 0;
  std::map<std::string, uint64_t> leaks_by_form;
  std::vector<LeakRecord> leaks; // the first max_listed; corpus/line of the matched record

  bool clean() const { return missing == 0 && leaks_total == 0; }
};

// Runs the whole live session. Errors (unreadable corpus, bind or connect failure) are input or
// connection errors: exit 2.
Result<LiveResult> runLiveSession(const std::vector<std::string>& corpora,
                                  const rules::RuleSet& rules, CanarySet& canaries,
                                  const LiveOptions& options);

// The "live" section as a JSON object, and its lines for the human summary.
std::string liveJson(const LiveResult& live);
std::string liveSummary(const LiveResult& live);

} // namespace scrub::verify
