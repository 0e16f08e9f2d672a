#pragma once

// Feeds standard input (or any file descriptor) through a LineFramer: the offline commands see
// exactly the lines the proxy would.

#include "proxy/line_framer.h"

namespace scrub::cli {

// Returns false on a read error (errno is left set).
bool readLines(int fd, proxy::LineFramer& framer, const proxy::LineFramer::Sink& sink);

} // namespace scrub::cli
