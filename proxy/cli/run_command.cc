// `scrubproxy run`: the proxy itself. (Filled in by the stream proxy work.)

#include <cstdio>

#include "proxy/cli/commands.h"

namespace scrub::cli {

int runCommand(const Args&) {
  std::fprintf(stderr, "scrubproxy run: not built yet\n");
  return 1;
}

}  // namespace scrub::cli
