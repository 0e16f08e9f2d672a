#pragma once

// The bounded queue in front of one sink on one worker, and the bookkeeping of what a sink crash
// may have lost. Pure data structures: no I/O, no clock of their own, no threads. One owner
// thread; not thread-safe.
//
// Lines are appended (each + '\n') into chunks of `chunk_bytes`, so a write can hand many lines
// to the kernel at once and nothing is copied again. A chunk never reallocates once it holds
// payload, and every byte is zeroed when the queue lets it go.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace scrub::proxy {

struct SinkChunk {
  std::string bytes; // whole lines, each ending in '\n'
  uint32_t lines = 0;
  uint64_t received_ns = 0; // when its first (oldest) line was received; 0: not known
};

// Chunks on their way to the sink: taken from the queue, then released or put back.
struct SinkBatch {
  std::vector<SinkChunk> chunks;
  size_t bytes = 0;
  uint64_t lines = 0;
  bool empty() const { return chunks.empty(); }
};

struct SinkQueueLimits {
  size_t max_bytes = 64 << 20;  // push refuses a line that would pass it
  size_t high_bytes = 48 << 20; // reaching it raises the pressure flag ...
  size_t low_bytes = 16 << 20;  // ... which drops again once the bytes fall to this
  size_t chunk_bytes = 64 << 10;
  // A chunk holds at most this many lines, so a batch of whole chunks can respect a record limit
  // (HTTP sinks' batch_records).
  uint32_t chunk_lines = UINT32_MAX;
};

class SinkQueue {
public:
  explicit SinkQueue(const SinkQueueLimits& limits);
  ~SinkQueue(); // wipes what is left
  SinkQueue(const SinkQueue&) = delete;
  SinkQueue& operator=(const SinkQueue&) = delete;

  // Appends `line` + '\n'. False (and nothing stored) when the bytes held, queued and in flight,
  // would pass max_bytes. `received_ns` (uv_hrtime of its receipt) is kept per chunk, for the
  // first line of each.
  bool push(std::string_view line, uint64_t received_ns = 0);

  // Moves whole chunks, oldest first, to the caller: at least one when any is queued, then more
  // while the batch stays within `max_bytes` and `max_lines`. Their bytes stay counted (in flight)
  // until release() or putBack().
  SinkBatch take(size_t max_bytes, uint64_t max_lines = UINT64_MAX);
  // The batch reached the sink: its bytes are wiped and no longer counted.
  void release(SinkBatch&& batch);
  // The batch did not reach the sink: it goes back to the front, in order, to be sent again.
  void putBack(SinkBatch&& batch);
  // Gives up every queued line (wiped); returns how many there were. In-flight bytes stay.
  uint64_t discardQueued();

  bool empty() const { return chunks_.empty(); } // nothing queued (in flight not counted)
  size_t queuedBytes() const { return queued_bytes_; }
  uint64_t queuedLines() const { return queued_lines_; }
  size_t inFlightBytes() const { return in_flight_bytes_; }
  size_t heldBytes() const { return queued_bytes_ + in_flight_bytes_; }
  const SinkQueueLimits& limits() const { return limits_; }

  // Hysteresis over heldBytes(): set once it reaches high_bytes, cleared once it falls to
  // low_bytes. Callers stop feeding the queue while it is set.
  bool pressured() const { return pressured_; }
  // Re-evaluates pressured(); true when it changed.
  bool updatePressure();

private:
  SinkChunk newChunk(size_t at_least);
  void recycle(SinkChunk&& chunk);

  SinkQueueLimits limits_;
  std::deque<SinkChunk> chunks_;
  std::vector<std::string> spare_; // wiped chunk buffers kept for reuse
  size_t queued_bytes_ = 0;
  uint64_t queued_lines_ = 0;
  size_t in_flight_bytes_ = 0;
  bool pressured_ = false;
};

// What may be lost when a TCP sink's connection fails. Plain TCP has no acknowledgement from the
// receiving program, so bytes the kernel accepted can still die in socket buffers or in the
// receiver's memory. The window is an estimate of that: the writes completed within the last
// `window_bytes` bytes AND the last `window_ms` milliseconds before the failure.
class DeliveryRisk {
public:
  DeliveryRisk(size_t window_bytes, uint64_t window_ms)
      : window_bytes_(window_bytes), window_ms_(window_ms) {}

  void recordWrite(uint64_t now_ms, size_t bytes, uint64_t lines);
  // Lines that may have been lost if the connection failed at `now_ms`.
  uint64_t linesAtRisk(uint64_t now_ms);
  size_t bytesAtRisk(uint64_t now_ms);
  void clear();

private:
  struct Entry {
    uint64_t at_ms;
    size_t bytes;
    uint64_t lines;
  };
  void trim(uint64_t now_ms);

  size_t window_bytes_;
  uint64_t window_ms_;
  std::deque<Entry> entries_;
  size_t bytes_ = 0;
  uint64_t lines_ = 0;
};

} // namespace scrub::proxy
