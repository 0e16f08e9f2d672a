#pragma once

// Deterministic synthetic log corpus for leak testing: OpenFn runtime lines, job lines carrying
// retry ids, careless job lines, raw Kobo submissions and Lightning worker lines, with
// synthetic Bosnian personal data planted in them. Every planted value is reported back as a
// canary so a test can prove that none of it survives the proxy.
//
// The output is a pure function of (seed, number of lines): the generator uses its own
// splitmix64 stream and integer-only formatting, so the same seed gives the same bytes with any
// compiler or standard library.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace scrub::corpus {

struct CorpusOptions {
  uint64_t lines = 1000;
  uint64_t seed = 1;
};

// One generated line plus what a leak test needs to know about it.
struct CorpusLine {
  // One JSON object, no trailing newline.
  std::string json;
  // Every personal value planted in this line (as plain text, unescaped), de-duplicated, in the
  // order first planted. A full name also contributes its first and last name. None of them
  // contains a character that JSON escapes, so each occurs verbatim in `json`, also inside
  // JSON.stringify'd strings.
  std::vector<std::string> canaries;
  // Retry ids in the line: {"_id","9448242"}, {"_xform_id","7205"} as the decimal text of each
  // JSON integer, in the order they appear. Ids inside JSON.stringify'd strings are text, not
  // JSON integers, and are not listed.
  std::vector<std::pair<std::string, std::string>> ids;
};

// Not thread-safe; use one generator per thread (with different seeds for different streams).
class CorpusGenerator {
public:
  explicit CorpusGenerator(uint64_t seed);

  // Deterministic given the seed and the number of previous calls, on any platform.
  CorpusLine next();

private:
  uint64_t rngState_;
  // Nanoseconds since the epoch of the current line; moves forward so timestamps look like a run.
  uint64_t clockNs_;
};

// Writes opts.lines lines (each + '\n') to `out`; if `canaries` is non-null writes every distinct
// planted personal value, one per line, sorted (bytewise) and de-duplicated, to it.
void generateCorpus(const CorpusOptions& opts, std::ostream& out, std::ostream* canaries);

} // namespace scrub::corpus
