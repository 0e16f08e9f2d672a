#pragma once

// A small argument reader for the subcommands: `--name value`, `--name=value`, repeatable
// options, flags and positionals. Unknown options are errors, as in the config files.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rules/result.h"

namespace scrub::cli {

struct OptionSpec {
  std::set<std::string> with_value; // e.g. "--rules"
  std::set<std::string> flags;      // e.g. "--show-values"
};

struct ParsedArgs {
  std::map<std::string, std::vector<std::string>> values;
  std::set<std::string> flags;
  std::vector<std::string> positional;

  const std::vector<std::string>& all(const std::string& name) const;
  std::optional<std::string> last(const std::string& name) const;
  bool has(const std::string& flag) const { return flags.count(flag) > 0; }
};

Result<ParsedArgs> parseArgs(const std::vector<std::string>& args, const OptionSpec& spec);

// Parses a non-negative integer option; an error names the option.
Result<uint64_t> parseCount(const std::string& option, const std::string& text);

} // namespace scrub::cli
