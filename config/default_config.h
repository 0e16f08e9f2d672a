#pragma once

// The configuration `scrubproxy run` uses when given no `--config`: the text of the documented
// example `config/scrubproxy.yaml`, byte for byte (a test holds them equal and loads it).

#include <string_view>

namespace scrub::config {

inline constexpr std::string_view kDefaultConfigName = "<embedded default config>";

std::string_view defaultConfigText();

} // namespace scrub::config
