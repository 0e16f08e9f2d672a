#pragma once

// The one writer of standard output. Workers hand it whole batches of lines; it writes each
// batch completely before the next, from its own thread, so lines from different workers never
// interleave mid-line and a slow reader of stdout blocks this thread, not an event loop.
//
// A job comes back through its `done` callback, on the writer thread; the callback only posts
// the result to the worker that submitted it. After abort() every job still waiting (and every
// new one) comes back unwritten; a job being written stops at the next chunk.

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "proxy/sink_queue.h"

namespace scrub::proxy {

struct StdoutJob {
  enum class Outcome : uint8_t { Written, Aborted, Failed };

  SinkBatch batch;
  Outcome outcome = Outcome::Aborted;
  std::function<void(std::shared_ptr<StdoutJob>)> done;
};

class StdoutWriter {
public:
  explicit StdoutWriter(int fd = 1);
  ~StdoutWriter(); // stop()s and joins
  StdoutWriter(const StdoutWriter&) = delete;
  StdoutWriter& operator=(const StdoutWriter&) = delete;

  void start();
  // Any thread.
  void submit(std::shared_ptr<StdoutJob> job);
  // Any thread: give up what is not written yet.
  void abort();
  // Ends the thread once the queue is empty (jobs still queued come back aborted).
  void stop();

private:
  void runLoop();
  StdoutJob::Outcome write(const SinkBatch& batch);

  int fd_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<StdoutJob>> jobs_;
  bool stopping_ = false;
  bool aborted_ = false;
  bool failed_ = false; // stdout is gone (EPIPE, EBADF…): nothing more can be written
  std::thread thread_;
};

} // namespace scrub::proxy
