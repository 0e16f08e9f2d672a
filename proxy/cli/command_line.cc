#include "proxy/cli/command_line.h"

#include <charconv>

namespace scrub::cli {

const std::vector<std::string>& ParsedArgs::all(const std::string& name) const {
  static const std::vector<std::string> kNone;
  const auto it = values.find(name);
  return it == values.end() ? kNone : it->second;
}

std::optional<std::string> ParsedArgs::last(const std::string& name) const {
  const auto& list = all(name);
  if (list.empty()) {
    return std::nullopt;
  }
  return list.back();
}

Result<ParsedArgs> parseArgs(const std::vector<std::string>& args, const OptionSpec& spec) {
  ParsedArgs parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!arg.starts_with("--") || arg == "--") {
      parsed.positional.push_back(arg);
      continue;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (const size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    if (spec.flags.count(name) > 0) {
      if (value) {
        return Error{name + " takes no value"};
      }
      parsed.flags.insert(name);
      continue;
    }
    if (spec.with_value.count(name) == 0) {
      return Error{"unknown option " + name};
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return Error{name + " needs a value"};
      }
      value = args[++i];
    }
    parsed.values[name].push_back(*value);
  }
  return parsed;
}

Result<uint64_t> parseCount(const std::string& option, const std::string& text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Error{option + ": expected a non-negative integer, got '" + text + "'"};
  }
  return value;
}

} // namespace scrub::cli
