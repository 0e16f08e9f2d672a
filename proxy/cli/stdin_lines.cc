#include "proxy/cli/stdin_lines.h"

#include <unistd.h>

#include <cerrno>

namespace scrub::cli {

bool readLines(int fd, proxy::LineFramer& framer, const proxy::LineFramer::Sink& sink) {
  for (;;) {
    auto space = framer.writable();
    const ssize_t n = ::read(fd, space.data(), space.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    if (n == 0) {
      framer.finish(sink);
      return true;
    }
    framer.commit(static_cast<size_t>(n), sink);
  }
}

} // namespace scrub::cli
