#pragma once

// The subcommands of the `scrubproxy` binary. Each takes the arguments after its name and
// returns the process exit code.

#include <string>
#include <vector>

namespace scrub::cli {

using Args = std::vector<std::string>;

int filterCommand(const Args& args);
int checkCommand(const Args& args);
int explainCommand(const Args& args);
int genCorpusCommand(const Args& args);
int runCommand(const Args& args);

}  // namespace scrub::cli
