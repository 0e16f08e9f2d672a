#include "proxy/sink_queue.h"

#include <algorithm>

#include "proxy/wipe.h"

namespace scrub::proxy {
namespace {

constexpr size_t kMaxSpareChunks = 4;

} // namespace

SinkQueue::SinkQueue(const SinkQueueLimits& limits) : limits_(limits) {}

SinkQueue::~SinkQueue() {
  discardQueued();
  for (auto& spare : spare_) {
    wipe(spare);
  }
}

SinkChunk SinkQueue::newChunk(size_t at_least) {
  SinkChunk chunk;
  if (at_least <= limits_.chunk_bytes && !spare_.empty()) {
    chunk.bytes = std::move(spare_.back());
    spare_.pop_back();
  } else {
    // Reserved up front: appending never reallocates, so no copy of payload is left behind in
    // freed memory.
    chunk.bytes.reserve(std::max(at_least, limits_.chunk_bytes));
  }
  return chunk;
}

void SinkQueue::recycle(SinkChunk&& chunk) {
  wipe(chunk.bytes);
  const size_t capacity = chunk.bytes.capacity();
  if (capacity >= limits_.chunk_bytes && capacity < 2 * limits_.chunk_bytes &&
      spare_.size() < kMaxSpareChunks) {
    spare_.push_back(std::move(chunk.bytes));
  } else {
    std::string().swap(chunk.bytes);
  }
}

bool SinkQueue::push(std::string_view line, uint64_t received_ns) {
  const size_t need = line.size() + 1;
  if (heldBytes() + need > limits_.max_bytes) {
    return false;
  }
  // Appending must never reallocate a chunk (a copy of payload would be left behind in freed
  // memory), and chunks stay near chunk_bytes so a write can take a few at a time.
  if (chunks_.empty() || chunks_.back().lines >= limits_.chunk_lines ||
      chunks_.back().bytes.size() + need >
          std::min(chunks_.back().bytes.capacity(), limits_.chunk_bytes)) {
    chunks_.push_back(newChunk(need));
  }
  SinkChunk& tail = chunks_.back();
  if (tail.lines == 0) {
    tail.received_ns = received_ns;
  }
  tail.bytes.append(line);
  tail.bytes.push_back('\n');
  ++tail.lines;
  queued_bytes_ += need;
  ++queued_lines_;
  return true;
}

SinkBatch SinkQueue::take(size_t max_bytes, uint64_t max_lines) {
  SinkBatch batch;
  while (!chunks_.empty()) {
    SinkChunk& front = chunks_.front();
    if (!batch.empty() &&
        (batch.bytes + front.bytes.size() > max_bytes || batch.lines + front.lines > max_lines)) {
      break;
    }
    batch.bytes += front.bytes.size();
    batch.lines += front.lines;
    batch.chunks.push_back(std::move(front));
    chunks_.pop_front();
  }
  queued_bytes_ -= batch.bytes;
  queued_lines_ -= batch.lines;
  in_flight_bytes_ += batch.bytes;
  return batch;
}

void SinkQueue::release(SinkBatch&& batch) {
  in_flight_bytes_ -= batch.bytes;
  for (auto& chunk : batch.chunks) {
    recycle(std::move(chunk));
  }
  batch = SinkBatch{};
}

void SinkQueue::putBack(SinkBatch&& batch) {
  in_flight_bytes_ -= batch.bytes;
  queued_bytes_ += batch.bytes;
  queued_lines_ += batch.lines;
  for (auto it = batch.chunks.rbegin(); it != batch.chunks.rend(); ++it) {
    chunks_.push_front(std::move(*it));
  }
  batch = SinkBatch{};
}

uint64_t SinkQueue::discardQueued() {
  const uint64_t lines = queued_lines_;
  for (auto& chunk : chunks_) {
    recycle(std::move(chunk));
  }
  chunks_.clear();
  queued_bytes_ = 0;
  queued_lines_ = 0;
  return lines;
}

bool SinkQueue::updatePressure() {
  const size_t held = heldBytes();
  if (!pressured_ && held >= limits_.high_bytes) {
    pressured_ = true;
    return true;
  }
  if (pressured_ && held <= limits_.low_bytes) {
    pressured_ = false;
    return true;
  }
  return false;
}

void DeliveryRisk::recordWrite(uint64_t now_ms, size_t bytes, uint64_t lines) {
  entries_.push_back(Entry{now_ms, bytes, lines});
  bytes_ += bytes;
  lines_ += lines;
  trim(now_ms);
}

void DeliveryRisk::trim(uint64_t now_ms) {
  while (!entries_.empty()) {
    const Entry& front = entries_.front();
    const bool too_old = now_ms > front.at_ms && now_ms - front.at_ms > window_ms_;
    const bool pushed_out = bytes_ - front.bytes >= window_bytes_;
    if (!too_old && !pushed_out) {
      break;
    }
    bytes_ -= front.bytes;
    lines_ -= front.lines;
    entries_.pop_front();
  }
}

uint64_t DeliveryRisk::linesAtRisk(uint64_t now_ms) {
  trim(now_ms);
  return lines_;
}

size_t DeliveryRisk::bytesAtRisk(uint64_t now_ms) {
  trim(now_ms);
  return bytes_;
}

void DeliveryRisk::clear() {
  entries_.clear();
  bytes_ = 0;
  lines_ = 0;
}

} // namespace scrub::proxy
