// `scrubproxy gen-corpus`: a deterministic synthetic corpus (and its canaries) for tests,
// benchmarks and testers' own leak suites. All data is generated; none is real.

#include <cstdio>
#include <fstream>
#include <iostream>

#include "proxy/cli/command_line.h"
#include "proxy/cli/commands.h"
#include "proxy/synthetic_corpus.h"

namespace scrub::cli {

int genCorpusCommand(const Args& args) {
  auto parsed = parseArgs(args, {{"--lines", "--seed", "--canaries", "--out"}, {}});
  if (!parsed.ok()) {
    std::fprintf(stderr, "scrubproxy gen-corpus: %s\n", parsed.error().message.c_str());
    return 2;
  }
  corpus::CorpusOptions options;
  for (const auto& [name, target] :
       {std::pair{"--lines", &options.lines}, std::pair{"--seed", &options.seed}}) {
    if (auto v = parsed->last(name)) {
      auto n = parseCount(name, *v);
      if (!n.ok()) {
        std::fprintf(stderr, "scrubproxy gen-corpus: %s\n", n.error().message.c_str());
        return 2;
      }
      *target = *n;
    }
  }
  std::ofstream canaries;
  if (auto path = parsed->last("--canaries")) {
    canaries.open(*path, std::ios::binary | std::ios::trunc);
    if (!canaries) {
      std::fprintf(stderr, "scrubproxy gen-corpus: cannot write %s\n", path->c_str());
      return 1;
    }
  }
  std::ofstream out_file;
  std::ostream* out = &std::cout;
  if (auto path = parsed->last("--out")) {
    out_file.open(*path, std::ios::binary | std::ios::trunc);
    if (!out_file) {
      std::fprintf(stderr, "scrubproxy gen-corpus: cannot write %s\n", path->c_str());
      return 1;
    }
    out = &out_file;
  }
  std::ios::sync_with_stdio(false);
  corpus::generateCorpus(options, *out, canaries.is_open() ? &canaries : nullptr);
  out->flush();
  return *out ? 0 : 1;
}

} // namespace scrub::cli
