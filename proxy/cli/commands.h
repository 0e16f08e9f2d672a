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
// `version` goes into verify reports (the libraries do not know the binary's version).
int verifyCommand(const Args& args, const char* version);
int coverageCommand(const Args& args);
int diffCommand(const Args& args);
// Audits a deployment (config, rules, process, files) against the seeds' checklists.
int doctorCommand(const Args& args);

} // namespace scrub::cli
