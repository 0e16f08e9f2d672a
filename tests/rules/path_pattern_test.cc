#include "rules/path_pattern.h"

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "rules/path_matcher.h"

namespace scrub::rules {
namespace {

using Kind = PathSegment::Kind;

PathSegment key(std::string k) {
  return PathSegment{Kind::Key, std::move(k)};
}
PathSegment anyKey() {
  return PathSegment{Kind::AnyKey, {}};
}
PathSegment anyIndex() {
  return PathSegment{Kind::AnyIndex, {}};
}
PathSegment anyDepth() {
  return PathSegment{Kind::AnyDepth, {}};
}

PathPattern parsed(std::string_view text) {
  auto result = parsePathPattern(text);
  INFO(text);
  REQUIRE(result.ok());
  return result.value();
}

std::string parseError(std::string_view text) {
  auto result = parsePathPattern(text);
  INFO(text);
  REQUIRE_FALSE(result.ok());
  return result.error().message;
}

TEST_CASE("parsePathPattern: plain keys and wildcards", "[rules][path]") {
  auto id = parsed("_id");
  CHECK(id.segments == std::vector<PathSegment>{key("_id")});
  CHECK(id.text == "_id");
  CHECK(id.isLiteral());

  auto message = parsed("message[]._id");
  CHECK(message.segments == std::vector<PathSegment>{key("message"), anyIndex(), key("_id")});
  CHECK_FALSE(message.isLiteral());

  auto deep = parsed("**._id");
  CHECK(deep.segments == std::vector<PathSegment>{anyDepth(), key("_id")});
  CHECK_FALSE(deep.isLiteral());

  auto star = parsed("*.x");
  CHECK(star.segments == std::vector<PathSegment>{anyKey(), key("x")});
  CHECK_FALSE(star.isLiteral());

  auto element = parsed("[]");
  CHECK(element.segments == std::vector<PathSegment>{anyIndex()});

  auto nested = parsed("a[][].b");
  CHECK(nested.segments == std::vector<PathSegment>{key("a"), anyIndex(), anyIndex(), key("b")});

  CHECK(parsed("a.b.c").isLiteral());
}

TEST_CASE("parsePathPattern: quoted keys and slashes", "[rules][path]") {
  auto quoted = parsed(R"("a.b".c)");
  CHECK(quoted.segments == std::vector<PathSegment>{key("a.b"), key("c")});
  CHECK(quoted.isLiteral());

  auto star_key = parsed(R"("*".x)");
  CHECK(star_key.segments == std::vector<PathSegment>{key("*"), key("x")});

  auto escaped = parsed(R"("say \"hi\"")");
  CHECK(escaped.segments == std::vector<PathSegment>{key(R"(say "hi")")});

  auto kobo = parsed("child/full_name");
  CHECK(kobo.segments == std::vector<PathSegment>{key("child/full_name")});

  auto kobo_nested = parsed("group/child[].child/full_name");
  CHECK(kobo_nested.segments ==
        std::vector<PathSegment>{key("group/child"), anyIndex(), key("child/full_name")});
}

TEST_CASE("parsePathPattern: errors say what is wrong", "[rules][path]") {
  CHECK(parseError("") == "path is empty");

  const std::string double_dot = parseError("a..b");
  CHECK_THAT(double_dot, Catch::Contains("empty segment"));
  CHECK_THAT(double_dot, Catch::Contains("'a..b'"));
  CHECK_THAT(double_dot, Catch::Contains("character 3"));

  CHECK_THAT(parseError(".a"), Catch::Contains("empty segment"));

  const std::string trailing_dot = parseError("a.");
  CHECK_THAT(trailing_dot, Catch::Contains("ends with '.'"));
  CHECK_THAT(trailing_dot, Catch::Contains("character 2"));

  const std::string bad_index = parseError("a[x]");
  CHECK_THAT(bad_index, Catch::Contains("'[' must be followed by ']'"));
  CHECK_THAT(bad_index, Catch::Contains("character 2"));
  CHECK_THAT(parseError("a["), Catch::Contains("'[' must be followed by ']'"));

  const std::string partial_star = parseError("a*b");
  CHECK_THAT(partial_star, Catch::Contains("whole segments"));
  CHECK_THAT(partial_star, Catch::Contains("character 2"));
  CHECK_THAT(parseError("x.**y"), Catch::Contains("whole segments"));

  const std::string unterminated = parseError(R"(a."b.c)");
  CHECK_THAT(unterminated, Catch::Contains("unterminated quoted key"));

  const std::string trailing_any = parseError("a.**");
  CHECK_THAT(trailing_any, Catch::Contains("trailing `**`"));
  CHECK_THAT(parseError("**"), Catch::Contains("trailing `**`"));

  CHECK_THAT(parseError("a]"), Catch::Contains("unexpected ']'"));
  CHECK_THAT(parseError(R"(a"b")"), Catch::Contains("unexpected '\"'"));
  CHECK_THAT(parseError(R"("a"b)"), Catch::Contains("expected '.' or '[]'"));
}

TEST_CASE("appendPathKey quotes only the keys that need it", "[rules][path]") {
  std::string path;
  appendPathKey(path, "message");
  appendPathIndex(path);
  appendPathKey(path, "_id");
  CHECK(path == "message[]._id");

  std::string special;
  appendPathKey(special, "a.b");
  appendPathKey(special, "*");
  appendPathKey(special, "child/full_name");
  appendPathKey(special, R"(q"k)");
  CHECK(special == R"("a.b"."*".child/full_name."q\"k")");

  // What appendPathKey writes parses back to the same keys.
  auto back = parsed(special);
  CHECK(back.segments ==
        std::vector<PathSegment>{key("a.b"), key("*"), key("child/full_name"), key(R"(q"k)")});
}

// Walks a concrete path through a matcher and returns the rules that accept its last node.
// Steps are keys, or "[]" for an array element.
std::set<uint32_t> accepted(const PathMatcher& matcher, const std::vector<std::string>& steps,
                            bool* alive = nullptr) {
  std::vector<PathMatcher::State> states;
  std::vector<PathMatcher::State> next;
  matcher.start(states);
  for (const auto& step : steps) {
    if (step == "[]") {
      matcher.stepIndex(states, next);
    } else {
      matcher.stepKey(states, step, next);
    }
    states.swap(next);
  }
  if (alive != nullptr) {
    *alive = !states.empty();
  }
  std::set<uint32_t> rules;
  matcher.forEachAccepted(states, [&](uint32_t rule) { rules.insert(rule); });
  CHECK(matcher.anyAccepted(states) == !rules.empty());
  return rules;
}

PathMatcher matcherFor(const std::vector<std::string>& texts) {
  std::vector<PathPattern> patterns;
  for (const auto& text : texts) {
    patterns.push_back(parsed(text));
  }
  return PathMatcher(patterns);
}

TEST_CASE("PathMatcher: `**` matches at any depth, through arrays", "[rules][path]") {
  const PathMatcher m = matcherFor({"**._id"});
  using Rules = std::set<uint32_t>;
  CHECK(accepted(m, {"_id"}) == Rules{0});
  CHECK(accepted(m, {"a", "b", "[]", "_id"}) == Rules{0});
  CHECK(accepted(m, {"[]", "_id"}) == Rules{0});
  CHECK(accepted(m, {"a", "_id"}) == Rules{0});
  CHECK(accepted(m, {"a", "_idx"}).empty());
  CHECK(accepted(m, {"a"}).empty());
  CHECK(accepted(m, {}).empty());
  // `_id` itself is matched, not what lies below it.
  CHECK(accepted(m, {"_id", "x"}).empty());
}

TEST_CASE("PathMatcher: `[]` matches array elements only", "[rules][path]") {
  const PathMatcher m = matcherFor({"message[]._id"});
  using Rules = std::set<uint32_t>;
  CHECK(accepted(m, {"message", "[]", "_id"}) == Rules{0});
  CHECK(accepted(m, {"message", "_id"}).empty());
  CHECK(accepted(m, {"message", "[]", "[]", "_id"}).empty());
  CHECK(accepted(m, {"x", "message", "[]", "_id"}).empty());
  CHECK(accepted(m, {"message", "[]"}).empty());

  bool alive = true;
  accepted(m, {"other"}, &alive);
  CHECK_FALSE(alive); // no rule can reach below `other`: the walker may skip it
  accepted(m, {"message", "0"}, &alive);
  CHECK_FALSE(alive); // an object member is not an array element
  accepted(m, {"message", "[]"}, &alive);
  CHECK(alive);
}

TEST_CASE("PathMatcher: `*` matches exactly one key", "[rules][path]") {
  const PathMatcher m = matcherFor({"*.x"});
  using Rules = std::set<uint32_t>;
  CHECK(accepted(m, {"a", "x"}) == Rules{0});
  CHECK(accepted(m, {"b", "x"}) == Rules{0});
  CHECK(accepted(m, {"x"}).empty());
  CHECK(accepted(m, {"a", "b", "x"}).empty());
  CHECK(accepted(m, {"[]", "x"}).empty());
}

TEST_CASE("PathMatcher: several rules at once report their own indices", "[rules][path]") {
  const PathMatcher m = matcherFor({"_id", "**._id", "message[]._id", "*.level", "\"a.b\".c"});
  using Rules = std::set<uint32_t>;
  CHECK(accepted(m, {"_id"}) == Rules{0, 1});
  CHECK(accepted(m, {"message", "[]", "_id"}) == Rules{1, 2});
  CHECK(accepted(m, {"deep", "_id"}) == Rules{1});
  CHECK(accepted(m, {"meta", "level"}) == Rules{3});
  CHECK(accepted(m, {"a.b", "c"}) == Rules{4});
  CHECK(accepted(m, {"a", "b", "c"}).empty());
  CHECK(accepted(m, {"level"}).empty());
}

TEST_CASE("PathMatcher: no patterns accept nothing", "[rules][path]") {
  const PathMatcher m = matcherFor({});
  bool alive = true;
  CHECK(accepted(m, {}, &alive).empty());
  CHECK_FALSE(alive);
}

TEST_CASE("pathCovers: wildcards cover what they match", "[rules][path]") {
  CHECK(pathCovers(parsed("**._id"), parsed("message[]._id"), false));
  CHECK(pathCovers(parsed("**._id"), parsed("_id"), false));
  CHECK(pathCovers(parsed("**._id"), parsed("*.*._id"), false));
  CHECK(pathCovers(parsed("**._id"), parsed("a.**._id"), false));
  CHECK_FALSE(pathCovers(parsed("message[]._id"), parsed("**._id"), false));
  CHECK_FALSE(pathCovers(parsed("**._id"), parsed("_xform_id"), false));

  CHECK(pathCovers(parsed("a.*"), parsed("a.b"), false));
  CHECK_FALSE(pathCovers(parsed("a.b"), parsed("a.*"), false));
  CHECK_FALSE(pathCovers(parsed("a.*"), parsed("a[]"), false));
  CHECK(pathCovers(parsed("a[]"), parsed("a[]"), false));
  CHECK(pathCovers(parsed("a.*"), parsed("a.*"), false));
  CHECK_FALSE(pathCovers(parsed("*"), parsed("**.x"), false));
}

TEST_CASE("pathCovers: subtree coverage", "[rules][path]") {
  CHECK_FALSE(pathCovers(parsed("a"), parsed("a.b"), false));
  CHECK(pathCovers(parsed("a"), parsed("a.b"), true));
  CHECK(pathCovers(parsed("a"), parsed("a[].b.c"), true));
  CHECK_FALSE(pathCovers(parsed("a"), parsed("b.c"), true));
  CHECK_FALSE(pathCovers(parsed("a.b"), parsed("a"), true));
  CHECK(pathCovers(parsed("**.x"), parsed("y.x[].z"), true));
  CHECK_FALSE(pathCovers(parsed("**.x"), parsed("y.x[].z"), false));
}

} // namespace
} // namespace scrub::rules
