#pragma once

// Counters that one worker thread writes and the main thread reads (for the periodic and the
// final report). Each has a single writer, so an increment is a relaxed load and store: no
// locked instruction on the data path.

#include <array>
#include <atomic>
#include <cstdint>

#include "filters/drop_reason.h"

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
  Counter connect_failures; // attempts that did not connect
  Counter failures;         // established connections that failed
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
