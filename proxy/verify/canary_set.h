#pragma once

// The canaries of a leak test compiled into one matcher: every form of every canary
// (canary_forms.h), searched in one pass per output line.
//
// A canaries file holds one planted value per line (UTF-8, as `scrubproxy gen-corpus` writes
// them). Blank lines and lines starting with "# " are skipped; a canary is identified by its
// 1-based line number in the file, so reports can point at it without repeating it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/verify/multi_matcher.h"
#include "rules/result.h"

namespace scrub::verify {

// Shorter canaries would be found everywhere: "Al" is in "Already".
inline constexpr size_t kMinCanaryBytes = 3;

struct Canary {
  uint32_t file_line = 0; // 1-based line in the canaries file: the canary's id in reports
  std::string text;
};

struct LeakHit {
  uint32_t canary = 0;   // index into CanarySet::canaries()
  std::string_view form; // the plainest form found, e.g. "raw" or "decoded:u-escape"
};

class CanarySet {
public:
  // Parses a canaries file's text; `file_name` is used in error messages (file:line: ...).
  static Result<CanarySet> fromText(std::string_view text, std::string_view file_name);
  static Result<CanarySet> fromFile(const std::string& path);

  const std::vector<Canary>& canaries() const { return canaries_; }
  size_t patternCount() const { return matcher_.patternCount(); }
  size_t memoryBytes() const { return matcher_.memoryBytes(); }
  const std::vector<std::string>& formNames() const { return form_names_; }

  // Keys whose integer values are retry ids (`verify --expect-keep`). A digits-only form found
  // as exactly such a value (`"_id":20170616`) is the id, not a re-encoded canary (a date
  // 2017-06-16 here): with hundreds of thousands of canaries and ids, some coincide.
  void setIdKeys(std::vector<std::string> keys) { id_keys_ = std::move(keys); }

  // Every canary found in `line`, once each, with the plainest form it was found in. If a line
  // holds JSON escapes, canaries not found as written are also searched for in the line with
  // its escapes decoded (up to three times: JSON inside JSON inside JSON); those report
  // "decoded:<form>". `hits` is replaced. Not thread-safe (keeps scratch state); one per thread.
  void scan(std::string_view line, std::vector<LeakHit>& hits);

private:
  struct Entry {
    uint32_t canary;
    uint16_t form; // index into form_names_, lower is plainer
    bool digit_bounded;
  };

  void scanOnce(std::string_view text, int pass);
  bool isIdValue(std::string_view text, size_t begin, size_t end) const;

  std::vector<Canary> canaries_;
  std::vector<std::string> id_keys_;
  std::vector<std::string> form_names_;
  MultiMatcher matcher_;
  std::vector<std::vector<Entry>> entries_; // per matcher pattern id
  // Per-line scratch: best form per canary found in this line.
  std::vector<uint32_t> stamp_;
  std::vector<uint16_t> best_form_;
  std::vector<uint8_t> best_pass_;
  std::vector<uint32_t> found_;
  uint32_t line_stamp_ = 0;
  std::string decoded_[2];
};

} // namespace scrub::verify
