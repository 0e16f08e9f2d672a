#pragma once

// Key-path patterns of keep rules: `_id`, `message[]._id`, `**._xform_id`, `"meta.version"`,
// `child/full_name`. Segments are separated by '.'; `*` is any one key, `**` any number of steps
// (keys or array elements, zero included), `[]` any array element. A key that holds '.', '[',
// ']', '"' or is a lone '*' is written in double quotes ("a.b", "*"); '/' needs no quoting, so
// Kobo keys such as `child/full_name` are written as they are.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rules/result.h"

namespace scrub::rules {

struct PathSegment {
  enum class Kind : uint8_t { Key, AnyKey, AnyIndex, AnyDepth };
  Kind kind = Kind::Key;
  std::string key; // only for Kind::Key, unescaped

  bool operator==(const PathSegment&) const = default;
};

struct PathPattern {
  std::vector<PathSegment> segments;
  std::string text; // as written, for messages

  // True when every segment is a plain key (no wildcard): such paths need no search.
  bool isLiteral() const;
};

// Parses `text`; on failure the error message says what is wrong and at which character
// (1-based) of the path, without a file position: the caller knows where the path was written.
Result<PathPattern> parsePathPattern(std::string_view text);

// Renders a concrete path step by step for explain and coverage output: keys that need it are
// quoted, array elements are `[]`.
void appendPathKey(std::string& path, std::string_view key);
void appendPathIndex(std::string& path);

// True when every concrete path `inner` can match is also matched by `outer`, or lies below a
// path `outer` matches when `outer_covers_subtree` (a keep rule without a value contract keeps
// everything under it).
bool pathCovers(const PathPattern& outer, const PathPattern& inner, bool outer_covers_subtree);

} // namespace scrub::rules
