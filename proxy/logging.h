#pragma once

// The proxy's own log: spdlog, to stderr, as text or one JSON object per line. Named loggers
// ("proxy", "conn", "sink", "rules") share one sink. Only counts, addresses, connection ids,
// rule names and errors are ever logged: never a byte of payload and never a key name from it.

#include <spdlog/spdlog.h>

#include <memory>
#include <string_view>

#include "config/proxy_config.h"

namespace scrub::proxy {

// Creates (or reconfigures) the named loggers. Safe to call again; not thread-safe.
void setupLogging(const config::LogConfig& config);

// The named loggers; setupLogging() must have run (before it they log to stderr as text).
spdlog::logger& proxyLog();
spdlog::logger& connLog();
spdlog::logger& sinkLog();
spdlog::logger& rulesLog();

// Appends `text` as a JSON string literal (quotes included): control bytes escaped, other bytes
// kept as they are. For the JSON log format; exposed for its test.
void appendJsonLogString(std::string& out, std::string_view text);

} // namespace scrub::proxy
