#pragma once

// The fixed-width start of a value contract (a uuid, the `YYYY-MM-DDTHH:MM:SS` of a timestamp, a
// message template's leading words) checked 16 or 32 bytes at a time instead of one pattern node
// and one byte at a time. Every position has its set of allowed bytes; each set is split into
// "rectangles" (one high nibble, a set of low nibbles), each rectangle gets one bit, and a byte's
// rectangles are two 16-entry table lookups ANDed (the nibble classification simdjson uses for
// structural characters). A byte is allowed at position i when it shares a rectangle bit with
// position i's set; a bit belongs to one high nibble only, so sharing one means membership.
// At most 8 distinct rectangles (one byte of bits): enough for digits, hex, letters and literal
// punctuation; a layout needing more is not built and the contract matches node by node.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace scrub::rules {

class FixedLayout {
public:
  // One set per position: bit c of the 128 bits is byte c (only ASCII is ever allowed).
  using ByteBits = std::array<uint64_t, 2>;

  // The shortest layout worth a vector check; shorter starts stay with the node-by-node match.
  static constexpr size_t kMinBytes = 16;

  // nullopt when the layout is shorter than kMinBytes or needs more than 8 rectangles.
  static std::optional<FixedLayout> build(const std::vector<ByteBits>& positions);

  size_t size() const { return size_; }

  // Whether text[i] is allowed at position i for every i < size(); `text` must hold at least
  // size() bytes (it reads no byte beyond them).
  bool matches(const char* text) const;
  // The same answer one byte at a time: what builds without SSSE3 use; tests compare the two.
  bool matchesBytewise(const char* text) const;

private:
  struct Window {
    size_t offset = 0;
    std::array<uint8_t, 32> expected{}; // position offset + j's rectangle bits
  };

  size_t size_ = 0;
  size_t window_bytes_ = 16;             // 32 with AVX2 once the layout is that long
  std::array<uint8_t, 32> low_table_{};  // by low nibble, repeated in both halves
  std::array<uint8_t, 32> high_table_{}; // by high nibble, repeated likewise
  std::vector<Window> windows_; // cover [0, size_), the last one overlapping the one before
};

} // namespace scrub::rules
