#include "proxy/hardening.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <csignal>

namespace scrub::proxy {

HardeningReport hardenProcess() {
  HardeningReport report;
  const rlimit no_core{0, 0};
  const bool rlimit_ok = ::setrlimit(RLIMIT_CORE, &no_core) == 0;
  const bool dumpable_off = ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0;
  report.core_dumps_off = rlimit_ok && dumpable_off;
  std::signal(SIGPIPE, SIG_IGN);
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    if (files.rlim_cur < files.rlim_max) {
      files.rlim_cur = files.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &files);
    }
    report.open_files_limit = static_cast<unsigned long>(files.rlim_cur);
  }
  return report;
}

} // namespace scrub::proxy
