#pragma once

// Remembers what the key detectors said about a key. Log lines of one source repeat the same
// keys line after line (a Kobo form has a fixed set of fields), and asking two RE2 sets about
// every key of every line was the largest cost of the redact policy. Bounded: when full it is
// wiped and starts again, so hostile input with endless new keys costs memory up to the bound
// and nothing more. One per LineFilter (per worker thread); tied to one RuleSet by its id.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace scrub::filters {

struct KeyVerdict {
  int key_detector = -1;  // key-only detector that denies this key, or -1
  int data_detector = -1; // value detector that finds data in the key text itself, or -1
};

class KeyVerdictCache {
public:
  static constexpr size_t kMaxEntries = 4096;
  static constexpr size_t kMaxKeyBytes = 128;

  // Forgets everything when `rules_id` differs from the rule set the entries were made for.
  void useRules(uint64_t rules_id) {
    if (rules_id != rules_id_) {
      clear();
      rules_id_ = rules_id;
    }
  }
  const KeyVerdict* find(std::string_view key) const {
    const auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second;
  }
  void insert(std::string_view key, KeyVerdict verdict) {
    if (key.size() > kMaxKeyBytes) {
      return;
    }
    if (entries_.size() >= kMaxEntries) {
      clear();
    }
    entries_.emplace(std::string(key), verdict);
  }
  ~KeyVerdictCache() { clear(); }

private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void clear() {
    // Keys come from payload: wipe them before their memory goes back to the allocator.
    for (auto& entry : entries_) {
      volatile char* p = const_cast<char*>(entry.first.data());
      for (size_t i = 0; i < entry.first.size(); ++i) {
        p[i] = 0;
      }
    }
    entries_.clear();
  }

  std::unordered_map<std::string, KeyVerdict, Hash, std::equal_to<>> entries_;
  uint64_t rules_id_ = 0;
};

} // namespace scrub::filters
