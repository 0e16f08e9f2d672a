#pragma once

// Draws example strings from a regular expression, for the rule lint: "can this detector match
// something this value contract allows?" is answered by trying examples of each against the
// other. Understands the subset rule authors write (literals, escapes, classes, groups,
// alternation, quantifiers, anchors, inline flags); for anything else it returns nullopt and the
// lint says nothing rather than guess.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace scrub::rules {

// Up to `count` examples, deterministic for a given seed. Unbounded repetition (`*`, `+`, `{n,}`)
// is drawn up to `max_repeat` extra copies; a draw longer than 4 KiB (nested repeats) is left
// out, so fewer than `count` may come back.
std::optional<std::vector<std::string>> sampleRegex(std::string_view pattern, size_t count,
                                                    uint64_t seed, int max_repeat = 4);

} // namespace scrub::rules
