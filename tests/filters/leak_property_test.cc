// The property the product exists for: under the default pack, no planted personal value leaves
// in any form a re-encoder could produce, and every retry id survives unchanged.

#include <re2/re2.h>

#include <algorithm>

#include "filter_test_support.h"
#include "proxy/synthetic_corpus.h"

namespace {

// Every form a canary could take in output text.
std::vector<std::string> leakForms(const std::string& canary) {
  std::vector<std::string> forms = {canary};
  std::string lower = canary;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  forms.push_back(lower);
  // \u-escaped non-ASCII (lower- and upper-case hex), as JSON encoders write it.
  std::string escaped_lower;
  std::string escaped_upper;
  bool non_ascii = false;
  for (size_t i = 0; i < canary.size();) {
    const auto c = static_cast<unsigned char>(canary[i]);
    if (c < 0x80) {
      escaped_lower.push_back(static_cast<char>(c));
      escaped_upper.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    non_ascii = true;
    uint32_t cp = 0;
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    cp = c & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
    for (size_t k = 1; k < n && i + k < canary.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(canary[i + k]) & 0x3f);
    }
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\u%04x", cp);
    escaped_lower += buf;
    std::snprintf(buf, sizeof buf, "\\u%04X", cp);
    escaped_upper += buf;
    i += n;
  }
  if (non_ascii) {
    forms.push_back(escaped_lower);
    forms.push_back(escaped_upper);
  }
  std::string digits;
  for (char c : canary) {
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
    }
  }
  if (digits.size() >= 7 && digits != canary) {
    forms.push_back(digits);
  }
  return forms;
}

} // namespace

TEST_CASE("leak property: openfn-retry-ids lets no canary through and keeps every id",
          "[filters][leak]") {
  scrub::testing::FilterHarness h(scrub::testing::rulesFromPacks({"openfn-retry-ids"}));
  scrub::corpus::CorpusGenerator generator(20261123);
  const RE2 id_token(R"re("(_id|_xform_id)":([0-9]+))re");
  size_t forwarded = 0;
  size_t ids_checked = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto line = generator.next();
    const auto result = h.run(line.json);
    INFO("line " << i << ": " << line.json << "\n-> " << result.out);
    REQUIRE((result.reason == scrub::filters::DropReason::None ||
             result.reason == scrub::filters::DropReason::Empty));
    for (const auto& canary : line.canaries) {
      for (const auto& form : leakForms(canary)) {
        INFO("canary form: " << form);
        REQUIRE(result.out.find(form) == std::string::npos);
      }
    }
    // The ids, in order and byte for byte.
    std::vector<std::pair<std::string, std::string>> seen;
    re2::StringPiece input(result.out);
    std::string key;
    std::string value;
    while (RE2::FindAndConsume(&input, id_token, &key, &value)) {
      seen.emplace_back(key, value);
    }
    REQUIRE(seen == line.ids);
    ids_checked += line.ids.size();
    forwarded += result.reason == scrub::filters::DropReason::None ? 1 : 0;
  }
  // The corpus is built to exercise both outcomes; a filter that drops everything proves nothing.
  CHECK(forwarded > 2000);
  CHECK(ids_checked > 5000);
}
