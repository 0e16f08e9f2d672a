#include "proxy/stdout_writer.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "proxy/logging.h"

namespace scrub::proxy {

StdoutWriter::StdoutWriter(int fd) : fd_(fd) {}

StdoutWriter::~StdoutWriter() {
  stop();
}

void StdoutWriter::start() {
  thread_ = std::thread([this] { runLoop(); });
}

void StdoutWriter::submit(std::shared_ptr<StdoutJob> job) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && !aborted_) {
      jobs_.push_back(std::move(job));
      wake_.notify_one();
      return;
    }
  }
  job->outcome = StdoutJob::Outcome::Aborted;
  auto done = job->done;
  done(std::move(job));
}

void StdoutWriter::abort() {
  std::lock_guard lock(mutex_);
  aborted_ = true;
  wake_.notify_one();
}

void StdoutWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

void StdoutWriter::runLoop() {
  for (;;) {
    std::shared_ptr<StdoutJob> job;
    bool aborted = false;
    bool failed = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return !jobs_.empty() || stopping_ || aborted_; });
      if (jobs_.empty()) {
        if (stopping_) {
          return;
        }
        continue; // aborted with nothing queued: wait for stop
      }
      job = std::move(jobs_.front());
      jobs_.pop_front();
      aborted = aborted_ || stopping_;
      failed = failed_;
    }
    if (failed) {
      job->outcome = StdoutJob::Outcome::Failed;
    } else if (aborted) {
      job->outcome = StdoutJob::Outcome::Aborted;
    } else {
      job->outcome = write(job->batch);
      if (job->outcome == StdoutJob::Outcome::Failed) {
        std::lock_guard lock(mutex_);
        failed_ = true;
      }
    }
    auto done = job->done;
    done(std::move(job));
  }
}

StdoutJob::Outcome StdoutWriter::write(const SinkBatch& batch) {
  for (const auto& chunk : batch.chunks) {
    {
      std::lock_guard lock(mutex_);
      if (aborted_) {
        // Between chunks only: a chunk ends on a line boundary, so what was written is whole.
        return StdoutJob::Outcome::Aborted;
      }
    }
    const char* data = chunk.bytes.data();
    size_t left = chunk.bytes.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, data, left);
      if (n > 0) {
        data += n;
        left -= static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        // Our stdout may be non-blocking (inherited): wait until it takes more.
        pollfd pfd{fd_, POLLOUT, 0};
        ::poll(&pfd, 1, 100);
        continue;
      }
      sinkLog().error("stdout: write failed ({}); lines for stdout are lost from now on",
                      std::strerror(errno));
      return StdoutJob::Outcome::Failed;
    }
  }
  return StdoutJob::Outcome::Written;
}

} // namespace scrub::proxy
