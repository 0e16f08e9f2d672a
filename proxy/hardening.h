#pragma once

// Process-wide settings for zero persistence and for many connections, applied first thing in
// `scrubproxy run`: no core dumps (RLIMIT_CORE 0, and PR_SET_DUMPABLE 0, which also keeps other
// processes of the same user from attaching to read our memory), SIGPIPE ignored (a closed sink
// is an error code, not a dead process), and the open-files limit raised to its hard limit.

#include <string>

namespace scrub::proxy {

struct HardeningReport {
  bool core_dumps_off = false;
  unsigned long open_files_limit = 0;
};

HardeningReport hardenProcess();

} // namespace scrub::proxy
