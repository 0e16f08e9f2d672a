#pragma once

// SHA-256 helpers for identifying rule and config files (never for payload: payload pseudonyms
// are keyed, see filters/pseudonymizer.h).

#include <string>
#include <string_view>

namespace scrub::rules {

std::string sha256Hex(std::string_view bytes);

} // namespace scrub::rules
