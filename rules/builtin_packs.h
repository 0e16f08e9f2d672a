#pragma once

// The rule packs shipped in rules/packs/, compiled into the binary (cmake/embed_packs.cmake) so
// `scrubproxy` runs on its default policy with no file on disk.

#include <string_view>
#include <vector>

namespace scrub::rules {

struct BuiltinPack {
  std::string_view name; // file name without .yaml
  std::string_view text;
};

const std::vector<BuiltinPack>& builtinPacks();

// Null when no pack has that name.
const BuiltinPack* findBuiltinPack(std::string_view name);

inline constexpr std::string_view kDefaultPack = "openfn-retry-ids";

} // namespace scrub::rules
