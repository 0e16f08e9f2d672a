#include "proxy/synthetic_corpus.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <regex>
#include <set>
#include <simdjson.h>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using scrub::corpus::CorpusGenerator;
using scrub::corpus::CorpusLine;
using scrub::corpus::CorpusOptions;
using scrub::corpus::generateCorpus;
using IdList = std::vector<std::pair<std::string, std::string>>;

std::vector<CorpusLine> generate(uint64_t seed, size_t n) {
  CorpusGenerator gen(seed);
  std::vector<CorpusLine> lines;
  lines.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    lines.push_back(gen.next());
  }
  return lines;
}

// Independent of the generator's escaper, so the honesty check does not trust the code it tests.
std::string jsonEscape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

bool allDigits(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool validJmbg(const std::string& s) {
  if (s.size() != 13 || !allDigits(s)) {
    return false;
  }
  auto d = [&](size_t i) { return s[i] - '0'; };
  const int day = d(0) * 10 + d(1);
  const int month = d(2) * 10 + d(3);
  const int year = 2000 + d(5) * 10 + d(6);
  const int region = d(7) * 10 + d(8);
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (d(4) != 0 || year < 2008 || year > 2020 || month < 1 || month > 12 || region < 10 ||
      region > 19) {
    return false;
  }
  const bool leap = year % 4 == 0;
  if (day < 1 || day > kDays[month - 1] + (month == 2 && leap ? 1 : 0)) {
    return false;
  }
  const int sum = 7 * (d(0) + d(6)) + 6 * (d(1) + d(7)) + 5 * (d(2) + d(8)) + 4 * (d(3) + d(9)) +
                  3 * (d(4) + d(10)) + 2 * (d(5) + d(11));
  const int m = 11 - sum % 11;
  if (m == 10) {
    return false; // the generator promises to skip the ambiguous case
  }
  return d(12) == (m == 11 ? 0 : m);
}

void collectIds(simdjson::dom::element e, IdList& out) {
  if (e.is_object()) {
    for (auto field : simdjson::dom::object(e)) {
      if ((field.key == "_id" || field.key == "_xform_id") && field.value.is_int64()) {
        out.emplace_back(std::string(field.key), std::to_string(int64_t(field.value)));
      }
      collectIds(field.value, out);
    }
  } else if (e.is_array()) {
    for (auto v : simdjson::dom::array(e)) {
      collectIds(v, out);
    }
  }
}

bool hasKey(simdjson::dom::element e, std::string_view key) {
  simdjson::dom::object obj;
  if (e.get(obj) != simdjson::SUCCESS) {
    return false;
  }
  simdjson::dom::element unused;
  return obj.at_key(key).get(unused) == simdjson::SUCCESS;
}

enum class Shape { Runtime, JobIds, Careless, Kobo, Lightning, Unknown };

// Recovers the shape from the JSON alone, the way a leak test sees the line.
Shape classify(simdjson::dom::element doc, const CorpusLine& line, bool* stringified) {
  *stringified = false;
  if (hasKey(doc, "_uuid")) {
    return Shape::Kobo;
  }
  if (hasKey(doc, "step_id")) {
    return Shape::Lightning;
  }
  if (!hasKey(doc, "name")) {
    return Shape::Unknown;
  }
  if (line.ids.empty() && line.canaries.empty()) {
    return Shape::Runtime;
  }
  simdjson::dom::array message;
  REQUIRE(doc["message"].get(message) == simdjson::SUCCESS);
  for (auto part : message) {
    std::string_view text;
    if (part.get(text) == simdjson::SUCCESS) {
      for (const auto& c : line.canaries) {
        if (text.find(c) != std::string_view::npos) {
          *stringified = text.find("{\"_id\":") != std::string_view::npos;
          return Shape::Careless;
        }
      }
    }
    if (hasKey(part, "_uuid")) {
      return Shape::Careless;
    }
  }
  return line.ids.empty() ? Shape::Unknown : Shape::JobIds;
}

} // namespace

TEST_CASE("corpus is deterministic per seed", "[corpus]") {
  const auto a = generate(42, 1000);
  const auto b = generate(42, 1000);
  const auto c = generate(43, 1000);
  size_t differing = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].json == b[i].json);
    REQUIRE(a[i].canaries == b[i].canaries);
    REQUIRE(a[i].ids == b[i].ids);
    differing += a[i].json != c[i].json ? 1 : 0;
  }
  CHECK(differing > 990);

  // Pins the byte stream so a change in RNG use or formatting (or a platform difference) is
  // noticed; update deliberately when the corpus format is changed on purpose.
  uint64_t fnv = 14695981039346656037ULL;
  for (const auto& line : generate(1, 200)) {
    for (const char ch : line.json + "\n") {
      fnv = (fnv ^ static_cast<unsigned char>(ch)) * 1099511628211ULL;
    }
  }
  CHECK(fnv == 3524157827994961651ULL);
}

TEST_CASE("corpus lines are JSON objects with honest canaries and ids", "[corpus]") {
  const auto lines = generate(7, 5000);
  simdjson::dom::parser parser;

  std::set<Shape> shapes;
  size_t stringifiedLines = 0;
  size_t jmbgs = 0;
  size_t idCount = 0;
  // The five spellings of a phone number the generator promises.
  const std::vector<std::regex> phoneForms = {
      std::regex(R"(0\d\d \d{3} \d{3})"), std::regex(R"(0\d\d/\d{3}-\d{3})"),
      std::regex(R"(\+387 \d\d \d{3} \d{3})"), std::regex(R"(\+387\d{8})"),
      std::regex(R"(00387 \d\d \d{3} \d{3})")};
  std::vector<size_t> phoneFormCounts(phoneForms.size(), 0);

  for (const auto& line : lines) {
    INFO(line.json);
    simdjson::dom::element doc;
    REQUIRE(parser.parse(line.json).get(doc) == simdjson::SUCCESS);
    REQUIRE(doc.is_object());
    REQUIRE(line.json.find('\n') == std::string::npos);

    for (const auto& c : line.canaries) {
      INFO(c);
      REQUIRE(c.size() >= 4);
      const bool present = line.json.find(c) != std::string::npos ||
                           line.json.find(jsonEscape(c)) != std::string::npos ||
                           line.json.find(jsonEscape(jsonEscape(c))) != std::string::npos;
      CHECK(present);
      if (c.size() == 13 && allDigits(c)) {
        ++jmbgs;
        CHECK(validJmbg(c));
      }
      for (size_t f = 0; f < phoneForms.size(); ++f) {
        phoneFormCounts[f] += std::regex_match(c, phoneForms[f]) ? 1 : 0;
      }
    }

    IdList parsedIds;
    collectIds(doc, parsedIds);
    CHECK(parsedIds == line.ids);
    for (const auto& [key, text] : line.ids) {
      CHECK(line.json.find("\"" + key + "\":" + text) != std::string::npos);
      if (key == "_id") {
        ++idCount;
        const uint64_t v = std::stoull(text);
        CHECK(v >= 1);
        CHECK(v <= 1000000000);
      }
    }

    bool stringified = false;
    const Shape shape = classify(doc, line, &stringified);
    CHECK(shape != Shape::Unknown);
    shapes.insert(shape);
    stringifiedLines += stringified ? 1 : 0;
    if (shape == Shape::Runtime) {
      CHECK(line.canaries.empty());
    }
  }

  CHECK(shapes.size() == 5);
  CHECK(stringifiedLines > 0);
  CHECK(jmbgs > 100);
  CHECK(idCount > 1000);
  for (size_t f = 0; f < phoneForms.size(); ++f) {
    INFO("phone form " << f);
    CHECK(phoneFormCounts[f] > 0);
  }
}

TEST_CASE("canaries never occur by accident in non-personal text", "[corpus]") {
  // A canary that also matched a key, a uuid or a runtime message would make leak tests report
  // false leaks. Remove each line's own canaries (longest first, so a full name goes before its
  // parts) and require that no canary of the whole corpus is left in what remains.
  const auto lines = generate(11, 2000);
  std::set<std::string> all;
  for (const auto& line : lines) {
    all.insert(line.canaries.begin(), line.canaries.end());
  }
  for (const auto& line : lines) {
    std::string rest = line.json;
    auto own = line.canaries;
    std::sort(own.begin(), own.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    for (const auto& c : own) {
      for (size_t pos = rest.find(c); pos != std::string::npos; pos = rest.find(c, pos)) {
        rest.replace(pos, c.size(), "\x01");
      }
    }
    for (const auto& c : all) {
      INFO(line.json << "\ncanary: " << c);
      REQUIRE(rest.find(c) == std::string::npos);
    }
  }
}

TEST_CASE("generateCorpus writes N lines and a sorted unique canary list", "[corpus]") {
  CorpusOptions opts;
  opts.lines = 300;
  opts.seed = 5;
  std::ostringstream out;
  std::ostringstream canaries;
  generateCorpus(opts, out, &canaries);

  const auto expected = generate(5, 300);
  std::set<std::string> expectedCanaries;
  std::string all;
  for (const auto& line : expected) {
    all += line.json + "\n";
    expectedCanaries.insert(line.canaries.begin(), line.canaries.end());
  }
  const std::string text = out.str();
  CHECK(text == all);
  CHECK(std::count(text.begin(), text.end(), '\n') == 300);

  std::vector<std::string> written;
  std::istringstream in(canaries.str());
  for (std::string l; std::getline(in, l);) {
    written.push_back(l);
  }
  REQUIRE(!written.empty());
  CHECK(std::adjacent_find(written.begin(), written.end(),
                           [](const auto& a, const auto& b) { return !(a < b); }) == written.end());
  CHECK(std::set<std::string>(written.begin(), written.end()) == expectedCanaries);

  std::ostringstream again;
  generateCorpus(opts, again, nullptr);
  CHECK(again.str() == out.str());
}
