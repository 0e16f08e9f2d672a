#pragma once

// Counters that one worker thread writes and the main thread reads (for the periodic and the
// final report). Each has a single writer, so an increment is a relaxed load and store: no
// locked instruction on the data path.

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>

#include "filters/drop_reason.h"
#include "filters/filter_counters.h"
#include "rules/rule_set.h"

namespace scrub::proxy {

class Counter {
public:
  void add(uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void set(uint64_t n) { value_.store(n, std::memory_order_relaxed); }
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<uint64_t> value_{0};
};

// Time from a line's receipt (the read that brought it) to the completed write to its sink. The
// queue keeps one receipt time per chunk, the oldest line's, and every line of the chunk is
// counted with it: each observation is an upper bound, never an underestimate.
inline constexpr std::array<double, 14> kLatencyBucketsSeconds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

struct LatencyHistogram {
  std::array<Counter, kLatencyBucketsSeconds.size() + 1> buckets; // per bucket, last is +Inf
  Counter count;
  Counter sum_ns;

  void observe(uint64_t ns, uint64_t lines) {
    const double seconds = static_cast<double>(ns) / 1e9;
    size_t i = 0;
    while (i < kLatencyBucketsSeconds.size() && seconds > kLatencyBucketsSeconds[i]) {
      ++i;
    }
    buckets[i].add(lines);
    count.add(lines);
    sum_ns.add(ns * lines);
  }
};

// One sink as seen by one worker.
struct SinkStats {
  Counter lines_queued;    // accepted into the queue
  Counter lines_delivered; // handed to the sink (written to its socket / to stdout)
  Counter bytes_delivered;
  Counter lines_overflow;    // refused: the queue was full (never expected with backpressure)
  Counter lines_at_risk;     // written to a TCP connection that then failed (may be lost)
  Counter lines_resent;      // in a write that failed, queued again for the next connection
  Counter lines_lost;        // certainly not delivered: the sink failed for good (stdout closed)
  Counter lines_undelivered; // still held when the shutdown deadline passed
  Counter connects;
  Counter connect_failures;  // attempts that did not connect
  Counter failures;          // established connections that failed
  Counter batches_delivered; // writes that completed (HTTP: requests answered 2xx)
  Counter batches_failed;    // writes that failed (their lines queued again or given up; HTTP:
                             // attempts without a 2xx that will be retried: error, 408, 429, 5xx)
  Counter batches_dropped;   // HTTP: batches the sink refused (other 4xx), not sent again
  Counter lines_rejected;    // HTTP: the lines of those batches
  Counter retries;           // HTTP: requests sent again after a failed attempt
  Counter queue_bytes;       // held now: queued and in flight (a gauge)
  Counter connected;         // 1 while a TCP connection is up; stdout: 1 until it fails
  LatencyHistogram latency;
};

// One listener as seen by one worker. The plain numbers are published after every read; the
// per-rule counters are copied under the mutex with the rule set they are indexed by, so a reader
// on another thread maps indices to rule names of the same generation.
struct ListenerStats {
  Counter lines_in;
  Counter lines_out;
  Counter bytes_in;
  Counter bytes_out;
  std::array<Counter, filters::kDropReasonCount> dropped;
  Counter fields_unmatched;    // allowlist: removed, no keep rule names them
  Counter fields_key_rejected; // allowlist: removed, a wildcard-matched key that is no identifier
  Counter tls_handshake_failures; // tls:// and https://: connections closed by a failed handshake

  std::mutex mutex;
  rules::RuleSetPtr rules;                          // guarded by mutex
  std::vector<filters::KeepRuleCounters> keep;      // guarded by mutex
  std::vector<filters::DetectorCounters> detectors; // guarded by mutex
};

// What one worker's connections and filters did.
struct WorkerStats {
  Counter connections_accepted;
  Counter connections_rejected; // over max_connections
  Counter lines_in;
  Counter lines_out;
  Counter bytes_in;
  Counter bytes_out;
  std::array<Counter, filters::kDropReasonCount> dropped;
  // HTTP ingress.
  Counter http_auth_failures; // 401s (missing or wrong credential)
  Counter http_rejected;      // other error answers (400, 405, 411, 413, 415, 429, 431)
  Counter http_busy;          // 503: a sink above its high watermark
};

} // namespace scrub::proxy
