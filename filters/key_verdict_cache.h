#pragma once

// Remembers what the key detectors said about a key. Log lines of one source repeat the same
// keys line after line (a Kobo form has a fixed set of fields), and asking two RE2 sets about
// every key of every line was the largest cost of the redact policy. Bounded: when half full it
// is wiped and starts again, so hostile input with endless new keys costs memory up to the
// bound and nothing more. One per LineFilter (per worker thread); tied to one RuleSet by its id.
// Open addressing over a fixed table: a lookup is one short hash and usually one compare.

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

  KeyVerdictCache() : slots_(std::make_unique<Slot[]>(kSlots)) {}
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
    for (size_t i = hash(key) & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      const Slot& slot = slots_[i];
      if (!slot.used) {
        return nullptr;
      }
      if (rules::equalBytes(slot.key, key)) {
        return &slot.verdict;
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
    for (size_t i = hash(key) & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      Slot& slot = slots_[i];
      if (!slot.used) {
        slot.used = true;
        slot.key.assign(key);
        slot.verdict = verdict;
        ++entries_;
        return;
      }
      if (rules::equalBytes(slot.key, key)) {
        return;
      }
    }
  }

private:
  struct Slot {
    bool used = false;
    std::string key;
    KeyVerdict verdict;
  };

  static size_t hash(std::string_view key) {
    // Eight bytes a step: keys are short, and a byte-at-a-time hash was half the lookup.
    constexpr uint64_t kMul = 0x9e3779b97f4a7c15ULL;
    uint64_t h = key.size() * kMul;
    size_t i = 0;
    for (; i + 8 <= key.size(); i += 8) {
      uint64_t chunk = 0;
      std::memcpy(&chunk, key.data() + i, 8);
      h = (h ^ chunk) * kMul;
      h ^= h >> 29;
    }
    uint64_t tail = 0;
    std::memcpy(&tail, key.data() + i, key.size() - i);
    h = (h ^ tail) * kMul;
    return static_cast<size_t>(h ^ (h >> 32));
  }

  void clear() {
    if (entries_ == 0) {
      return;
    }
    for (size_t i = 0; i < kSlots; ++i) {
      Slot& slot = slots_[i];
      if (slot.used) {
        // Keys come from payload: wipe them before the memory is reused.
        volatile char* p = slot.key.data();
        for (size_t k = 0; k < slot.key.size(); ++k) {
          p[k] = 0;
        }
        slot.key.clear();
        slot.used = false;
      }
    }
    entries_ = 0;
  }

  std::unique_ptr<Slot[]> slots_;
  size_t entries_ = 0;
  uint64_t rules_id_ = 0;
};

} // namespace scrub::filters
