#pragma once

// The writer's only escaping routine: appends `text` (valid UTF-8) as a JSON string literal with
// the minimal escapes RFC 8259 requires. Non-ASCII stays as UTF-8 bytes.

#include <string>
#include <string_view>

namespace scrub::filters {

void appendJsonString(std::string& out, std::string_view text);

// Appends `"body":` — an object key whose bytes are already a valid JSON string body (no escape
// needed, none to undo), as the filter knows of most keys. Inline: it runs once per written key.
inline void appendVerbatimKey(std::string& out, std::string_view body) {
  out.push_back('"');
  out.append(body);
  out.append("\":", 2);
}

} // namespace scrub::filters
