// scrubproxy: wires the subcommands; everything else lives in the libraries.

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "proxy/cli/commands.h"

namespace {

constexpr const char* kUsage = R"(scrubproxy — a log-scrubbing stream proxy

usage:
  scrubproxy [run] [--config FILE] [--listen URL]... [--sink URL]... [--rules FILE]...
  scrubproxy filter [--rules FILE]...      JSON lines on stdin -> allowed JSON on stdout
  scrubproxy check --rules FILE... [--strict]
  scrubproxy explain [--rules FILE]... [--show-values]
  scrubproxy gen-corpus --lines N --seed S [--canaries FILE]
  scrubproxy verify --rules R... --corpus FILE... --canaries FILE [--report FILE]
                    [--expect-keep _id,_xform_id]     log-leak test, exit 1 on a leak
  scrubproxy coverage --rules R... --corpus FILE...   key paths seen and how rules decide them
  scrubproxy diff OLD_RULES NEW_RULES [--corpus FILE]... what the new rules let out, exit 1 if more
  scrubproxy doctor [--json] [run flags]            audit a deployment, exit 1 on an error finding
  scrubproxy --version

Rules are files or shipped packs: openfn-retry-ids (default), pii-detectors, kobo-redact.

run: the proxy. With no flags it runs the embedded default config (config/scrubproxy.yaml):
  listen tcp://127.0.0.1:5170, rules openfn-retry-ids, sink stdout. Flags override the file:
  --config FILE           YAML config (listeners, sinks, limits, workers, log)
  --listen URL            tcp://HOST:PORT, http://HOST:PORT (POST /v1/logs) or unix:///PATH
                          (repeatable; port 0: any free port)
  --api-key-env NAME      every http:// listener requires the API key in env var NAME
                          (Authorization: Bearer KEY or X-API-Key: KEY; 32+ characters)
  --sink URL              stdout, tcp://HOST:PORT (NDJSON) or http(s)://HOST[:PORT]/PATH
                          (NDJSON POSTs), repeatable
  --rules FILE            rule file or shipped pack (repeatable: loaded as one set)
  --workers N             worker threads, each with its own event loop (0: one per core)
  --log-level LEVEL       trace, debug, info, warn, error, critical, off
  --log-format FORMAT     text or json (the proxy's own log, on stderr)
  --allow-public          allow a listen (or admin) address that is not loopback
  --admin HOST:PORT|off   admin endpoint: /metrics /healthz /readyz /rules (default
                          127.0.0.1:9464)
  Signals: SIGTERM/SIGINT drain to the sinks and exit; SIGHUP reloads the rules.
  Exit codes: 0 stopped, 1 runtime failure, 2 bad flags, 3 config invalid, 4 rules invalid,
  5 sink address invalid, 6 cannot listen (address in use, not permitted).
)";

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string command = "run";
  if (!args.empty() && !args[0].starts_with("-")) {
    command = args[0];
    args.erase(args.begin());
  }
  if (command == "run") {
    for (const auto& a : args) {
      if (a == "--help" || a == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      }
      if (a == "--version") {
        std::printf("scrubproxy %s\n", SCRUB_VERSION);
        return 0;
      }
    }
    return scrub::cli::runCommand(args);
  }
  if (command == "filter") {
    return scrub::cli::filterCommand(args);
  }
  if (command == "check") {
    return scrub::cli::checkCommand(args);
  }
  if (command == "explain") {
    return scrub::cli::explainCommand(args);
  }
  if (command == "gen-corpus") {
    return scrub::cli::genCorpusCommand(args);
  }
  if (command == "verify") {
    return scrub::cli::verifyCommand(args, SCRUB_VERSION);
  }
  if (command == "coverage") {
    return scrub::cli::coverageCommand(args);
  }
  if (command == "diff") {
    return scrub::cli::diffCommand(args);
  }
  if (command == "doctor") {
    return scrub::cli::doctorCommand(args);
  }
  if (command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "scrubproxy: unknown command '%s'\n%s", command.c_str(), kUsage);
  return 2;
}
