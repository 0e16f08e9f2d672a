// proxy/sink_queue and proxy/backoff: the pure parts of a sink — bounded queue, batches,
// watermark hysteresis, what a failure may have lost, and reconnect delays.

#include <catch2/catch.hpp>

#include <string>

#include "config/proxy_config.h"
#include "proxy/backoff.h"
#include "proxy/sink.h"
#include "proxy/sink_queue.h"

using namespace scrub::proxy;

namespace {

std::string joined(const SinkBatch& batch) {
  std::string out;
  for (const auto& chunk : batch.chunks) {
    out += chunk.bytes;
  }
  return out;
}

SinkQueueLimits small(size_t max, size_t high, size_t low, size_t chunk = 16) {
  SinkQueueLimits limits;
  limits.max_bytes = max;
  limits.high_bytes = high;
  limits.low_bytes = low;
  limits.chunk_bytes = chunk;
  return limits;
}

} // namespace

TEST_CASE("a sink queue keeps lines in order, in chunks, and batches them", "[proxy][sink]") {
  SinkQueue queue(small(1000, 800, 100, 16));
  CHECK(queue.empty());
  for (int i = 0; i < 10; ++i) {
    REQUIRE(queue.push("line" + std::to_string(i))); // 6 bytes each with '\n'
  }
  CHECK(queue.queuedLines() == 10);
  CHECK(queue.queuedBytes() == 60);
  // 16-byte chunks hold two 6-byte lines each.
  SinkBatch first = queue.take(20);
  CHECK(first.chunks.size() == 1);
  CHECK(first.lines == 2);
  CHECK(joined(first) == "line0\nline1\n");
  CHECK(queue.inFlightBytes() == 12);
  CHECK(queue.heldBytes() == 60);
  SinkBatch rest = queue.take(1 << 20);
  CHECK(rest.lines == 8);
  CHECK(joined(rest) == "line2\nline3\nline4\nline5\nline6\nline7\nline8\nline9\n");
  CHECK(queue.empty());
  queue.release(std::move(first));
  CHECK(queue.heldBytes() == 48);

  SECTION("a failed batch goes back to the front, in order") {
    REQUIRE(queue.push("new"));
    queue.putBack(std::move(rest));
    CHECK(queue.inFlightBytes() == 0);
    CHECK(queue.queuedLines() == 9);
    SinkBatch again = queue.take(1 << 20);
    CHECK(joined(again) == "line2\nline3\nline4\nline5\nline6\nline7\nline8\nline9\nnew\n");
    queue.release(std::move(again));
    CHECK(queue.heldBytes() == 0);
  }
  SECTION("discarding gives up what is queued, not what is in flight") {
    REQUIRE(queue.push("a"));
    REQUIRE(queue.push("b"));
    CHECK(queue.discardQueued() == 2);
    CHECK(queue.heldBytes() == 48);
    queue.release(std::move(rest));
    CHECK(queue.heldBytes() == 0);
  }
}

TEST_CASE("a line longer than a chunk gets a chunk of its own", "[proxy][sink]") {
  SinkQueue queue(small(1000, 800, 100, 16));
  REQUIRE(queue.push("short"));
  const std::string big(100, 'x');
  REQUIRE(queue.push(big));
  REQUIRE(queue.push("after"));
  SinkBatch batch = queue.take(1 << 20);
  CHECK(batch.chunks.size() == 3);
  CHECK(joined(batch) == "short\n" + big + "\nafter\n");
  // Chunks are reserved up front: pushing never reallocates one that holds payload.
  for (const auto& chunk : batch.chunks) {
    CHECK(chunk.bytes.capacity() >= chunk.bytes.size());
  }
  queue.release(std::move(batch));
}

TEST_CASE("chunks hold at most chunk_lines lines, and a batch at most max_lines", "[proxy][sink]") {
  SinkQueueLimits limits = small(1000, 800, 100, 64);
  limits.chunk_lines = 2;
  SinkQueue queue(limits);
  for (int i = 0; i < 7; ++i) {
    REQUIRE(queue.push("r" + std::to_string(i)));
  }
  SinkBatch first = queue.take(1 << 20, 5); // whole chunks of 2: 4 lines
  CHECK(first.lines == 4);
  CHECK(joined(first) == "r0\nr1\nr2\nr3\n");
  SinkBatch second = queue.take(1 << 20, 1); // one chunk is always taken
  CHECK(second.lines == 2);
  SinkBatch third = queue.take(1 << 20, 5);
  CHECK(third.lines == 1);
  CHECK(queue.empty());
  queue.release(std::move(first));
  queue.release(std::move(second));
  queue.release(std::move(third));
  CHECK(queue.heldBytes() == 0);
}

TEST_CASE("a full queue refuses a line and keeps what it has", "[proxy][sink]") {
  SinkQueue queue(small(20, 15, 5, 64));
  REQUIRE(queue.push("0123456789")); // 11
  CHECK_FALSE(queue.push("0123456789"));
  CHECK(queue.push("01234567")); // exactly 20
  CHECK_FALSE(queue.push(""));
  CHECK(queue.heldBytes() == 20);
}

TEST_CASE("pressure rises at the high watermark and falls at the low one", "[proxy][sink]") {
  SinkQueue fresh(small(1000, 30, 10, 10)); // one 10-byte line per chunk
  REQUIRE(fresh.push("123456789"));
  REQUIRE(fresh.push("123456789"));
  CHECK_FALSE(fresh.updatePressure());
  REQUIRE(fresh.push("123456789"));
  CHECK(fresh.updatePressure()); // 30: on
  CHECK(fresh.pressured());
  SinkBatch batch = fresh.take(10);
  fresh.release(std::move(batch));
  CHECK_FALSE(fresh.updatePressure()); // 20: still on (hysteresis)
  CHECK(fresh.pressured());
  batch = fresh.take(10);
  fresh.release(std::move(batch));
  CHECK(fresh.updatePressure()); // 10: off
  CHECK_FALSE(fresh.pressured());
}

TEST_CASE("shard limits split a sink's buffer and keep room for a read in progress",
          "[proxy][sink]") {
  scrub::config::SinkConfig sink;
  sink.max_buffer_bytes = 64 << 20;
  sink.high_watermark_percent = 75;
  sink.low_watermark_percent = 25;
  const auto limits = shardLimits(sink, 4);
  CHECK(limits.max_bytes == 16u << 20);
  CHECK(limits.high_bytes == 12u << 20);
  CHECK(limits.low_bytes == 4u << 20);

  sink.max_buffer_bytes = 1 << 20;
  sink.high_watermark_percent = 90;
  const auto tight = shardLimits(sink, 1);
  CHECK(tight.high_bytes == (1u << 20) - kReadHeadroom);
  CHECK(tight.low_bytes <= tight.high_bytes / 2);
}

TEST_CASE("delivery risk counts recent writes, by bytes and by age", "[proxy][sink]") {
  DeliveryRisk risk(/*window_bytes=*/80, /*window_ms=*/1000);
  risk.recordWrite(0, 40, 4);
  risk.recordWrite(10, 40, 4);
  CHECK(risk.linesAtRisk(20) == 8);
  risk.recordWrite(20, 40, 4); // the first is now pushed out: 80 bytes came after it
  CHECK(risk.linesAtRisk(20) == 8);
  CHECK(risk.bytesAtRisk(20) == 80);
  CHECK(risk.linesAtRisk(1015) == 4); // only the last is younger than 1 s
  CHECK(risk.linesAtRisk(5000) == 0);
  risk.recordWrite(5000, 10, 1);
  risk.clear();
  CHECK(risk.linesAtRisk(5000) == 0);
}

TEST_CASE("backoff doubles from min to max with jitter in [0.5, 1]", "[proxy][sink]") {
  using std::chrono::milliseconds;
  Backoff backoff(milliseconds(100), milliseconds(1000), 42);
  const int64_t bases[] = {100, 200, 400, 800, 1000, 1000};
  for (const int64_t base : bases) {
    const auto delay = backoff.next().count();
    CHECK(delay >= base / 2);
    CHECK(delay <= base);
  }
  CHECK(backoff.attempts() == 6);
  backoff.reset();
  CHECK(backoff.next().count() <= 100);

  // Different seeds spread retries.
  Backoff a(milliseconds(1000), milliseconds(1000), 1);
  Backoff b(milliseconds(1000), milliseconds(1000), 2);
  bool differ = false;
  for (int i = 0; i < 8; ++i) {
    differ = differ || a.next() != b.next();
  }
  CHECK(differ);
}
