#pragma once

// The writer's only escaping routine: appends `text` (valid UTF-8) as a JSON string literal with
// the minimal escapes RFC 8259 requires. Non-ASCII stays as UTF-8 bytes.

#include <string>
#include <string_view>

namespace scrub::filters {

void appendJsonString(std::string& out, std::string_view text);

} // namespace scrub::filters
