#pragma once

// The flags of `scrubproxy run`, read into one ProxyConfig: the file named by --config (or the
// embedded default), then the flags on top (config::applyOverrides), then the whole checked.
// Kept apart from runCommand so tests can check flag handling without starting anything.

#include <string>

#include "config/proxy_config.h"
#include "proxy/cli/commands.h"
#include "proxy/server.h"

namespace scrub::cli {

struct RunConfig {
  config::ProxyConfig config;
  proxy::ExitCode code = proxy::ExitCode::Ok; // why it failed, when `error` is set
  std::string error;                          // one line; empty on success

  bool ok() const { return error.empty(); }
};

RunConfig buildRunConfig(const Args& args, const config::LoadOptions& options = {});

} // namespace scrub::cli
