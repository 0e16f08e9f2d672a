#include "rules/fixed_layout.h"

#include <map>
#include <utility>

#if defined(__SSSE3__)
#include <immintrin.h>
#endif

namespace scrub::rules {

std::optional<FixedLayout> FixedLayout::build(const std::vector<ByteBits>& positions) {
  if (positions.size() < kMinBytes) {
    return std::nullopt;
  }
  FixedLayout layout;
  layout.size_ = positions.size();
  std::map<std::pair<unsigned, uint16_t>, uint8_t> rectangle_bits; // (high, low nibbles) -> bit
  std::vector<uint8_t> expected(positions.size(), 0);
  for (size_t i = 0; i < positions.size(); ++i) {
    for (unsigned high = 0; high < 8; ++high) {
      const auto lows = static_cast<uint16_t>(positions[i][high / 4] >> ((high % 4) * 16) & 0xFFFF);
      if (lows == 0) {
        continue;
      }
      auto [it, added] = rectangle_bits.try_emplace({high, lows}, uint8_t{0});
      if (added) {
        if (rectangle_bits.size() > 8) {
          return std::nullopt;
        }
        it->second = static_cast<uint8_t>(1u << (rectangle_bits.size() - 1));
        for (unsigned low = 0; low < 16; ++low) {
          if ((lows >> low & 1) != 0) {
            layout.low_table_[low] |= it->second;
          }
        }
        layout.high_table_[high] |= it->second;
      }
      expected[i] |= it->second;
    }
    if (expected[i] == 0) {
      return std::nullopt; // an empty set: nothing matches; let the node-by-node match say so
    }
  }
  for (size_t k = 0; k < 16; ++k) {
    layout.low_table_[16 + k] = layout.low_table_[k];
    layout.high_table_[16 + k] = layout.high_table_[k];
  }
#if defined(__AVX2__)
  layout.window_bytes_ = positions.size() >= 32 ? 32 : 16;
#endif
  const size_t w = layout.window_bytes_;
  for (size_t offset = 0;; offset += w) {
    Window window;
    window.offset = offset + w <= layout.size_ ? offset : layout.size_ - w;
    for (size_t j = 0; j < w; ++j) {
      window.expected[j] = expected[window.offset + j];
    }
    layout.windows_.push_back(window);
    if (window.offset + w >= layout.size_) {
      break;
    }
  }
  return layout;
}

bool FixedLayout::matches(const char* text) const {
#if defined(__AVX2__)
  if (window_bytes_ == 32) {
    const __m256i low_table =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(low_table_.data()));
    const __m256i high_table =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(high_table_.data()));
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    for (const Window& window : windows_) {
      const __m256i bytes =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(text + window.offset));
      const __m256i low = _mm256_and_si256(bytes, nibble);
      const __m256i high = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), nibble);
      const __m256i rectangles = _mm256_and_si256(_mm256_shuffle_epi8(low_table, low),
                                                  _mm256_shuffle_epi8(high_table, high));
      const __m256i allowed = _mm256_and_si256(
          rectangles, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(window.expected.data())));
      if (_mm256_movemask_epi8(_mm256_cmpeq_epi8(allowed, _mm256_setzero_si256())) != 0) {
        return false;
      }
    }
    return true;
  }
#endif
#if defined(__SSSE3__)
  const __m128i low_table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(low_table_.data()));
  const __m128i high_table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(high_table_.data()));
  const __m128i nibble = _mm_set1_epi8(0x0F);
  for (const Window& window : windows_) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text + window.offset));
    const __m128i low = _mm_and_si128(bytes, nibble);
    const __m128i high = _mm_and_si128(_mm_srli_epi16(bytes, 4), nibble);
    const __m128i rectangles =
        _mm_and_si128(_mm_shuffle_epi8(low_table, low), _mm_shuffle_epi8(high_table, high));
    const __m128i allowed = _mm_and_si128(
        rectangles, _mm_loadu_si128(reinterpret_cast<const __m128i*>(window.expected.data())));
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(allowed, _mm_setzero_si128())) != 0) {
      return false;
    }
  }
  return true;
#else
  return matchesBytewise(text);
#endif
}

bool FixedLayout::matchesBytewise(const char* text) const {
  uint8_t all = 0xFF;
  for (const Window& window : windows_) {
    for (size_t j = 0; j < window_bytes_; ++j) {
      const auto c = static_cast<unsigned char>(text[window.offset + j]);
      const uint8_t rectangles = low_table_[c & 0x0F] & high_table_[c >> 4];
      all &= (rectangles & window.expected[j]) != 0 ? 0xFF : 0;
    }
  }
  return all != 0;
}

} // namespace scrub::rules
