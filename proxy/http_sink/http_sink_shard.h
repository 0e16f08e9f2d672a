#pragma once

// An HTTP(S) sink as seen by one worker: batches of the shard's queue POSTed through libcurl's
// multi interface on the worker's loop (CurlMultiDriver), one request in flight at a time, so
// batches reach the sink in order and a retry never overtakes a later batch.
//
// Batching: a request leaves when the queue holds batch_bytes or batch_records, when the oldest
// queued line has waited flush_interval, or at stop. Its body is encoded per format
// (HttpBodyEncoder), optionally gzipped, and kept until the sink answers.
//
// Delivery is at least once: a batch stays in the queue (counted as held, so the watermarks
// backpressure the listeners) until a 2xx. Connection errors, timeouts, 408, 429 and 5xx retry
// the same body after an exponential backoff with jitter (reconnect_min..reconnect_max) or the
// sink's Retry-After. Any other status drops the batch: counted, logged with the status, never
// with the body. A batch whose 2xx was lost (a reset after the sink stored it) is sent again
// and arrives twice; nothing else is duplicated.
//
// Elasticsearch / OpenSearch `_bulk` answers 200 even when some documents were not stored
// (BulkResponse): the records answered 408, 429 or 5xx are sent again on their own, the others
// the sink refused are counted as rejected and logged with their statuses, and the batch leaves
// the queue when nothing is left to retry. An answer that says `"errors":true` but cannot be
// matched to the records sends the whole batch again.
//
// Acknowledgements (listeners.http.ack: sink): every line pushed gets the next sequence number
// (pushedLines() after the push); awaitAck() reports when every line of a range left the queue,
// and how. All on the worker's loop thread.

#include <curl/curl.h>
#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proxy/backoff.h"
#include "proxy/http_sink/curl_multi_driver.h"
#include "proxy/sink.h"

namespace scrub::proxy {

enum class AckResult : uint8_t {
  Delivered, // every line of the range was in a batch the sink answered 2xx
  Dropped,   // some line was in a batch the sink refused (4xx)
  Shutdown,  // the proxy gave up before the sink acknowledged (shutdown deadline)
};

class HttpSinkShard final : public SinkShard {
public:
  HttpSinkShard(ShardHost& host, const config::SinkConfig& config, SinkStats& stats,
                const SinkQueueLimits& limits);
  ~HttpSinkShard() override;

  void start() override;
  void stop(bool abort) override;

  // Sequence number of the last line pushed (lines are numbered from 1).
  uint64_t pushedLines() const { return stats_.lines_queued.get(); }
  // Calls `done` once lines (first, last] have all left the queue. False when the shard is
  // already closing (nothing will be acknowledged; `done` is not kept).
  bool awaitAck(uint64_t first, uint64_t last, std::function<void(AckResult)> done);

private:
  enum class State : uint8_t { Idle, Sending, Waiting, Closed };
  struct Waiter {
    uint64_t first;
    uint64_t last;
    AckResult result;
    std::function<void(AckResult)> done;
  };

  void kick() override;
  void send();
  bool encodeBody(); // batch_ (or its records in retry_records_) into the request body
  void transmit();
  bool takeBulkAnswer(); // true: the batch is done; false: part of it is to be sent again
  void onDone(CURLcode result);
  void retryLater(const std::string& why, bool retry_after_applies);
  // The batch leaves the queue without a 2xx for what the last attempt carried (all of it, or
  // the records a `_bulk` answer left to retry): counts those in `unfinished`, and the batch's
  // other records as a `_bulk` answer settled them (refused or stored).
  void countUnfinished(Counter& unfinished);
  void completeBatch(AckResult result);
  void failWaiters(AckResult result);
  void finish();
  void maybeClosed();
  std::string describe(CURLcode result, long status) const;

  static void onTimer(uv_timer_t* timer);
  static void onTimerClosed(uv_handle_t* handle);
  static size_t onHeader(char* data, size_t size, size_t count, void* self);
  static size_t onResponseBody(char* data, size_t size, size_t count, void* self);

  State state_ = State::Idle;
  std::unique_ptr<CurlMultiDriver> driver_;
  bool driver_closed_ = true;
  CURL* easy_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::string url_;
  std::string connect_to_;
  curl_slist* connect_to_list_ = nullptr;
  uv_timer_t timer_{}; // flush interval while Idle, retry delay while Waiting
  bool timer_open_ = false;
  bool flush_armed_ = false;
  bool flush_due_ = false;
  char error_[CURL_ERROR_SIZE] = {};

  SinkBatch batch_;   // in flight (Sending) or waiting to be sent again (Waiting)
  std::string plain_; // its encoded body
  std::string gzip_;  // and compressed, with `gzip: true`
  // `_bulk` answers only, wiped once read: they may quote document values.
  std::string answer_;
  bool answer_overflow_ = false;
  // After a `_bulk` answer with failures: the batch's records (by index) still to be stored, in
  // order; empty while the whole batch is to be sent. And the records the sink refused.
  std::vector<uint32_t> retry_records_;
  std::vector<uint32_t> refused_records_;
  bool body_stale_ = false; // encode again before the next attempt (gzip failed after an answer)
  std::string retry_after_;
  Backoff backoff_;
  unsigned failed_attempts_ = 0; // of the current batch

  uint64_t acked_ = 0; // lines that left the queue, in order
  std::deque<Waiter> waiters_;
};

} // namespace scrub::proxy
