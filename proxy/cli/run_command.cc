// `scrubproxy run`: the proxy itself. Flags and the config file become one ProxyConfig; the
// Server then either starts completely or exits with one line saying what to fix.

#include <cstdio>

#include "proxy/cli/commands.h"
#include "proxy/cli/run_options.h"
#include "proxy/hardening.h"
#include "proxy/logging.h"
#include "proxy/server.h"

namespace scrub::cli {

int runCommand(const Args& args) {
  // Before anything can hold payload: no core dumps, no ptrace by peers, SIGPIPE ignored.
  const auto hardening = proxy::hardenProcess();

  RunConfig run = buildRunConfig(args);
  if (!run.ok()) {
    std::fprintf(stderr, "scrubproxy run: %s\n", run.error.c_str());
    return static_cast<int>(run.code);
  }
  proxy::setupLogging(run.config.log);
  if (!hardening.core_dumps_off) {
    proxy::proxyLog().warn("could not disable core dumps");
  }
  proxy::Server server(std::move(run.config));
  // A change of the config file is judged against the config the same file and flags give now.
  server.setConfigLoader([args]() -> Result<config::ProxyConfig> {
    RunConfig again = buildRunConfig(args);
    if (!again.ok()) {
      return Error{again.error};
    }
    return std::move(again.config);
  });
  if (auto failure = server.start()) {
    proxy::proxyLog().critical("{}", failure->message);
    return static_cast<int>(failure->code);
  }
  return server.run();
}

} // namespace scrub::cli
