#pragma once

// Remembers what the key detectors said about a key. Log lines of one source repeat the same
// keys line after line (a Kobo form has a fixed set of fields), and asking two RE2 sets about
// every key of every line was the largest cost of the redact policy. Bounded: when half full it
// is wiped and starts again, so hostile input with endless new keys costs memory up to the
// bound and nothing more. One per LineFilter (per worker thread); tied to one RuleSet by its id.
// Open addressing over a fixed table: a lookup is one short hash, a probe of a dense array of
// 32-bit tags (32 KiB, so it stays in cache where the 56-byte slots would not) and usually one
// key compare.

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "rules/equal_bytes.h"

namespace scrub::filters {

struct KeyVerdict {
  int key_detector = -1;   // key-only detector that denies this key, or -1
  int data_detector = -1;  // value detector that finds data in the key text itself, or -1
  bool wildcard_ok = true; // the key may be written where only a wildcard let it through
};

class KeyVerdictCache {
public:
  static constexpr size_t kSlots = 8192; // power of two
  static constexpr size_t kMaxEntries = kSlots / 2;
  static constexpr size_t kMaxKeyBytes = 128;

  KeyVerdictCache()
      : tags_(std::make_unique<uint32_t[]>(kSlots)), slots_(std::make_unique<Slot[]>(kSlots)) {}
  ~KeyVerdictCache() { clear(); }
  KeyVerdictCache(const KeyVerdictCache&) = delete;
  KeyVerdictCache& operator=(const KeyVerdictCache&) = delete;

  // Forgets everything when `rules_id` differs from the rule set the entries were made for.
  void useRules(uint64_t rules_id) {
    if (rules_id != rules_id_) {
      clear();
      rules_id_ = rules_id;
    }
  }

  const KeyVerdict* find(std::string_view key) const {
    const uint64_t h = hash(key);
    const uint32_t tag = tagOf(h);
    for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      if (tags_[i] == 0) {
        return nullptr;
      }
      if (tags_[i] == tag && rules::equalBytes(slots_[i].key, key)) {
        return &slots_[i].verdict;
      }
    }
  }

  void insert(std::string_view key, KeyVerdict verdict) {
    if (key.size() > kMaxKeyBytes) {
      return;
    }
    if (entries_ >= kMaxEntries) {
      clear();
    }
    const uint64_t h = hash(key);
    const uint32_t tag = tagOf(h);
    for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      if (tags_[i] == 0) {
        tags_[i] = tag;
        slots_[i].key.assign(key);
        slots_[i].verdict = verdict;
        ++entries_;
        return;
      }
      if (tags_[i] == tag && rules::equalBytes(slots_[i].key, key)) {
        return;
      }
    }
  }

private:
  struct Slot {
    std::string key;
    KeyVerdict verdict;
  };

  // Never 0, which marks a free slot.
  static uint32_t tagOf(uint64_t h) { return static_cast<uint32_t>(h >> 32) | 1; }

  static uint64_t hash(std::string_view key) {
    // Eight bytes a step: keys are short, and a byte-at-a-time hash was half the lookup. The
    // last bytes are read with fixed-size loads that may overlap what was already hashed (a
    // variable-size memcpy was a library call and a store-forwarding stall on every lookup).
    constexpr uint64_t kMul = 0x9e3779b97f4a7c15ULL;
    const size_t n = key.size();
    const char* p = key.data();
    uint64_t h = n * kMul;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      h = (h ^ rules::loadWord64(p + i)) * kMul;
      h ^= h >> 29;
    }
    uint64_t tail = 0;
    if (i < n) {
      if (n >= 8) {
        tail = rules::loadWord64(p + n - 8);
      } else if (n >= 4) {
        tail = (uint64_t{rules::loadWord32(p)} << 32) | rules::loadWord32(p + n - 4);
      } else {
        tail = static_cast<uint8_t>(p[0]) | (uint64_t{static_cast<uint8_t>(p[n / 2])} << 8) |
               (uint64_t{static_cast<uint8_t>(p[n - 1])} << 16);
      }
    }
    h = (h ^ tail) * kMul;
    return h ^ (h >> 32);
  }

  void clear() {
    if (entries_ == 0) {
      return;
    }
    for (size_t i = 0; i < kSlots; ++i) {
      if (tags_[i] != 0) {
        // Keys come from payload: wipe them before the memory is reused.
        Slot& slot = slots_[i];
        volatile char* p = slot.key.data();
        for (size_t k = 0; k < slot.key.size(); ++k) {
          p[k] = 0;
        }
        slot.key.clear();
        tags_[i] = 0;
      }
    }
    entries_ = 0;
  }

  std::unique_ptr<uint32_t[]> tags_; // 0: free; else tagOf(hash) of the slot's key
  std::unique_ptr<Slot[]> slots_;
  size_t entries_ = 0;
  uint64_t rules_id_ = 0;
};

} // namespace scrub::filters
