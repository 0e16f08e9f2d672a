#pragma once

// Keyed pseudonyms for `action: hash`: HMAC-SHA256 under the rule set's secret key, so the same
// phone number maps to the same token in every log line (joins still work) while nobody without
// the key can test guesses against it. Unkeyed hashes are deliberately not offered: a phone
// number has few enough possible values to be reversed by trying them all.

#include <string>
#include <string_view>

#include "rules/rule_set.h"

namespace scrub::filters {

// Appends "[HMAC:<key id>:<32 hex digits>]" (the first 128 bits of the MAC) to `out`.
void appendPseudonym(std::string& out, const rules::HashKey& key, std::string_view text);

} // namespace scrub::filters
