#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "rules/fixed_layout.h"

using scrub::rules::FixedLayout;

namespace {

bool has(const FixedLayout::ByteBits& set, unsigned char c) {
  return c < 128 && ((set[c >> 6] >> (c & 63)) & 1) != 0;
}

FixedLayout::ByteBits setOf(std::string_view bytes) {
  FixedLayout::ByteBits set{};
  for (unsigned char c : bytes) {
    set[c >> 6] |= uint64_t{1} << (c & 63);
  }
  return set;
}

FixedLayout::ByteBits rangeOf(char from, char to) {
  std::string bytes;
  for (char c = from; c <= to; ++c) {
    bytes.push_back(c);
  }
  return setOf(bytes);
}

// The answer by definition: every byte in its position's set.
bool expected(const std::vector<FixedLayout::ByteBits>& positions, const std::string& text) {
  for (size_t i = 0; i < positions.size(); ++i) {
    if (!has(positions[i], static_cast<unsigned char>(text[i]))) {
      return false;
    }
  }
  return true;
}

} // namespace

TEST_CASE("a fixed layout accepts exactly the bytes of each position's set",
          "[rules][fixed-layout]") {
  std::mt19937_64 random(7);
  // Sets drawn from a few shapes so that texts often match: the layouts contracts have.
  const std::vector<FixedLayout::ByteBits> shapes = {
      rangeOf('0', '9'), setOf("0123456789abcdef"), setOf("-"), setOf(":"),    setOf("T"),
      setOf("Z+-"),      rangeOf('A', 'Z'),         setOf(" "), setOf("\x7f"), setOf("`a")};
  size_t built = 0;
  size_t matched = 0;
  for (int round = 0; round < 3000; ++round) {
    const size_t length = 16 + random() % 60; // 16-byte and 32-byte windows, with overlap
    // Three shapes a round: together at most 8 rectangles most of the time.
    const size_t picked[3] = {random() % shapes.size(), random() % shapes.size(),
                              random() % shapes.size()};
    std::vector<FixedLayout::ByteBits> positions;
    for (size_t i = 0; i < length; ++i) {
      positions.push_back(shapes[picked[random() % 3]]);
    }
    const auto layout = FixedLayout::build(positions);
    if (!layout) {
      continue; // over 8 rectangles
    }
    ++built;
    REQUIRE(layout->size() == length);
    for (int t = 0; t < 20; ++t) {
      // A text drawn from the sets, then one byte (sometimes) replaced by anything, non-ASCII
      // included; padded beyond the layout to show nothing past it is read into the answer.
      std::string text;
      for (size_t i = 0; i < length; ++i) {
        std::vector<unsigned char> members;
        for (int c = 0; c < 128; ++c) {
          if (has(positions[i], static_cast<unsigned char>(c))) {
            members.push_back(static_cast<unsigned char>(c));
          }
        }
        text.push_back(static_cast<char>(members[random() % members.size()]));
      }
      if (t % 2 == 1) {
        text[random() % length] = static_cast<char>(random() % 256);
      }
      text += "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!";
      const bool want = expected(positions, text);
      INFO("round " << round << " text " << text);
      CHECK(layout->matches(text.data()) == want);
      CHECK(layout->matchesBytewise(text.data()) == want);
      matched += want ? 1 : 0;
    }
  }
  CHECK(built > 1000);
  CHECK(matched > 10000);
}

TEST_CASE("a fixed layout is not built when it is short or needs too many rectangles",
          "[rules][fixed-layout]") {
  CHECK_FALSE(FixedLayout::build(std::vector<FixedLayout::ByteBits>(15, rangeOf('0', '9'))));
  CHECK(FixedLayout::build(std::vector<FixedLayout::ByteBits>(16, rangeOf('0', '9'))));
  // Nine single bytes with nine different high/low nibble pairs need nine rectangles.
  std::vector<FixedLayout::ByteBits> nine;
  for (char c : std::string("0A a!Q~q\x10")) {
    nine.push_back(setOf(std::string(1, c)));
  }
  while (nine.size() < 16) {
    nine.push_back(setOf("0"));
  }
  CHECK_FALSE(FixedLayout::build(nine));
  // A uuid: hex digits (two rectangles) and '-' (one).
  std::vector<FixedLayout::ByteBits> uuid;
  for (size_t group : {8, 4, 4, 4, 12}) {
    if (!uuid.empty()) {
      uuid.push_back(setOf("-"));
    }
    for (size_t i = 0; i < group; ++i) {
      uuid.push_back(setOf("0123456789abcdef"));
    }
  }
  const auto layout = FixedLayout::build(uuid);
  REQUIRE(layout);
  CHECK(layout->matches("7f7ca3c9-03f2-4879-be5a-c50ca8250a63"));
  CHECK_FALSE(layout->matches("7f7ca3c9-03f2-4879-be5a-c50ca8250aG3"));
  CHECK_FALSE(layout->matches("7f7ca3c9-03f2-4879-be5a_c50ca8250a63"));
  CHECK_FALSE(layout->matches("7F7ca3c9-03f2-4879-be5a-c50ca8250a63"));
}
