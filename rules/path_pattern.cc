#include "rules/path_pattern.h"

#include <functional>

namespace scrub::rules {
namespace {

bool needsQuotes(std::string_view key) {
  if (key.empty() || key == "*" || key == "**") {
    return true;
  }
  for (char c : key) {
    if (c == '.' || c == '[' || c == ']' || c == '"' || c == '\\') {
      return true;
    }
  }
  return false;
}

} // namespace

bool PathPattern::isLiteral() const {
  for (const auto& s : segments) {
    if (s.kind != PathSegment::Kind::Key) {
      return false;
    }
  }
  return true;
}

Result<PathPattern> parsePathPattern(std::string_view text) {
  PathPattern pattern;
  pattern.text = std::string(text);
  auto fail = [&](size_t at, const std::string& what) {
    return Error{"path '" + std::string(text) + "': " + what + " at character " +
                 std::to_string(at + 1)};
  };
  if (text.empty()) {
    return Error{"path is empty"};
  }
  size_t i = 0;
  bool expect_segment = true; // at the start and after '.'
  while (i < text.size()) {
    const char c = text[i];
    if (c == '[') {
      if (i + 1 >= text.size() || text[i + 1] != ']') {
        return fail(i, "'[' must be followed by ']' (only `[]`, any element, is supported)");
      }
      if (!expect_segment && pattern.segments.empty()) {
        return fail(i, "unexpected '['");
      }
      pattern.segments.push_back({PathSegment::Kind::AnyIndex, {}});
      expect_segment = false;
      i += 2;
      continue;
    }
    if (c == '.') {
      if (expect_segment) {
        return fail(i, "empty segment");
      }
      expect_segment = true;
      ++i;
      if (i == text.size()) {
        return fail(i - 1, "path ends with '.'");
      }
      continue;
    }
    if (!expect_segment) {
      return fail(i, "expected '.' or '[]'");
    }
    if (c == '"') {
      std::string key;
      ++i;
      bool closed = false;
      while (i < text.size()) {
        if (text[i] == '\\' && i + 1 < text.size()) {
          key.push_back(text[i + 1]);
          i += 2;
          continue;
        }
        if (text[i] == '"') {
          closed = true;
          ++i;
          break;
        }
        key.push_back(text[i++]);
      }
      if (!closed) {
        return fail(text.size() - 1, "unterminated quoted key");
      }
      pattern.segments.push_back({PathSegment::Kind::Key, std::move(key)});
      expect_segment = false;
      continue;
    }
    size_t end = i;
    while (end < text.size() && text[end] != '.' && text[end] != '[') {
      if (text[end] == ']' || text[end] == '"') {
        return fail(end, std::string("unexpected '") + text[end] + "' (quote keys that hold it)");
      }
      ++end;
    }
    const std::string_view word = text.substr(i, end - i);
    if (word == "*") {
      pattern.segments.push_back({PathSegment::Kind::AnyKey, {}});
    } else if (word == "**") {
      pattern.segments.push_back({PathSegment::Kind::AnyDepth, {}});
    } else if (word.find('*') != std::string_view::npos) {
      return fail(i + word.find('*'),
                  "'*' and '**' stand for whole segments (quote a key that holds '*')");
    } else {
      pattern.segments.push_back({PathSegment::Kind::Key, std::string(word)});
    }
    expect_segment = false;
    i = end;
  }
  if (!pattern.segments.empty() && pattern.segments.back().kind == PathSegment::Kind::AnyDepth) {
    return Error{"path '" + std::string(text) +
                 "': a trailing `**` would keep everything; name what to keep"};
  }
  return pattern;
}

void appendPathKey(std::string& path, std::string_view key) {
  if (!path.empty()) {
    path.push_back('.');
  }
  if (!needsQuotes(key)) {
    path.append(key);
    return;
  }
  path.push_back('"');
  for (char c : key) {
    if (c == '"' || c == '\\') {
      path.push_back('\\');
    }
    path.push_back(c);
  }
  path.push_back('"');
}

void appendPathIndex(std::string& path) {
  path.append("[]");
}

bool pathCovers(const PathPattern& outer, const PathPattern& inner, bool outer_covers_subtree) {
  using Kind = PathSegment::Kind;
  const auto& a = outer.segments;
  const auto& b = inner.segments;
  // covers(i, j): every continuation b[j..] is matched by a[i..]. Patterns are short, so plain
  // recursion is enough.
  std::function<bool(size_t, size_t)> covers = [&](size_t i, size_t j) -> bool {
    if (i == a.size()) {
      return j == b.size() || outer_covers_subtree;
    }
    if (a[i].kind == Kind::AnyDepth) {
      if (covers(i + 1, j)) {
        return true;
      }
      return j < b.size() && covers(i, j + 1);
    }
    if (j == b.size()) {
      return false;
    }
    const auto& x = a[i];
    const auto& y = b[j];
    switch (y.kind) {
    case Kind::AnyDepth:
      return false; // only `**` absorbs `**`, handled above
    case Kind::Key:
      if ((x.kind == Kind::Key && x.key == y.key) || x.kind == Kind::AnyKey) {
        return covers(i + 1, j + 1);
      }
      return false;
    case Kind::AnyKey:
    case Kind::AnyIndex:
      return x.kind == y.kind && covers(i + 1, j + 1);
    }
    return false;
  };
  return covers(0, 0);
}

} // namespace scrub::rules
