#include "rules/fast_contract.h"

#include <charconv>

#include "rules/equal_bytes.h"

namespace scrub::rules {
namespace {

bool isLiteralChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '/' || c == '-' || c == ' ' || c == ':' || c == '@' || c == '#' || c == '=' ||
         c == ',' || c == '\'' || c == '<' || c == '>' || c == '%' || c == '&' || c == '!' ||
         c == '~' || c == '`' || c == ';' || c == '"';
}

// `{m}` or `{m,n}` at the start of `s`; advances past it.
bool parseRepeat(std::string_view& s, size_t& min, size_t& max) {
  if (s.empty() || s[0] != '{') {
    return false;
  }
  const size_t close = s.find('}');
  if (close == std::string_view::npos) {
    return false;
  }
  const std::string_view body = s.substr(1, close - 1);
  const size_t comma = body.find(',');
  const std::string_view lo = body.substr(0, comma);
  const std::string_view hi = comma == std::string_view::npos ? lo : body.substr(comma + 1);
  // RE2 reads a count with a leading zero (`{05}`) as literal text, not as a count.
  auto leadingZero = [](std::string_view n) { return n.size() > 1 && n[0] == '0'; };
  if (lo.empty() || hi.empty() || leadingZero(lo) || leadingZero(hi)) {
    return false;
  }
  if (std::from_chars(lo.data(), lo.data() + lo.size(), min).ptr != lo.data() + lo.size() ||
      std::from_chars(hi.data(), hi.data() + hi.size(), max).ptr != hi.data() + hi.size() ||
      min > max || max > 1000) {
    return false;
  }
  s.remove_prefix(close + 1);
  return true;
}

// Eight bytes at a time (simdjson's is_made_of_eight_digits_fast): a byte is a digit exactly when
// its high nibble is 3 and adding 6 leaves it 3. Ids and nanosecond times are 5 to 19 digits, and
// the byte loop was most of this contract's cost. The last word may overlap the one before it.
bool allDigits(std::string_view text) {
  constexpr uint64_t kHigh = 0xF0F0F0F0F0F0F0F0;
  constexpr uint64_t kSix = 0x0606060606060606;
  constexpr uint64_t kThrees = 0x3333333333333333;
  auto eightDigits = [&](const char* at) {
    const uint64_t word = loadWord64(at);
    return ((word & kHigh) | (((word + kSix) & kHigh) >> 4)) == kThrees;
  };
  const size_t n = text.size();
  if (n < 8) {
    for (char c : text) {
      if (c < '0' || c > '9') {
        return false;
      }
    }
    return true;
  }
  for (size_t at = 0; at + 8 < n; at += 8) {
    if (!eightDigits(text.data() + at)) {
      return false;
    }
  }
  return eightDigits(text.data() + n - 8);
}

bool consume(std::string_view& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) {
    return false;
  }
  s.remove_prefix(prefix.size());
  return true;
}

} // namespace

std::optional<FastContract> FastContract::recognise(std::string_view pattern) {
  std::string_view p = pattern;
  consume(p, "^");
  if (p.ends_with("$") && !p.ends_with("\\$")) {
    p.remove_suffix(1);
  }
  // Digits: [0-9]{m,n} / \d{m,n}, optionally after [1-9].
  {
    std::string_view s = p;
    FastContract digits;
    digits.kind_ = Kind::Digits;
    digits.first_nonzero_ = consume(s, "[1-9]");
    if ((consume(s, "[0-9]") || consume(s, "\\d")) && parseRepeat(s, digits.min_, digits.max_) &&
        s.empty()) {
      return digits;
    }
  }
  if (auto literals = recogniseLiterals(p)) {
    return literals;
  }
  if (auto simple = SimplePattern::compile(pattern)) {
    FastContract contract;
    contract.kind_ = Kind::Simple;
    contract.simple_ = std::move(simple);
    return contract;
  }
  return std::nullopt;
}

std::optional<FastContract> FastContract::recogniseLiterals(std::string_view p) {
  // Literals: (a|b|c), a|b|c or (?:a|b|c).
  std::string_view s = p;
  if (consume(s, "(?:") || consume(s, "(")) {
    if (!s.ends_with(")")) {
      return std::nullopt;
    }
    s.remove_suffix(1);
  }
  FastContract literals;
  std::string current;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '|') {
      literals.literal_lengths_ |= lengthBit(current.size());
      literals.literals_.push_back(current);
      current.clear();
      continue;
    }
    const char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      const char e = s[i + 1];
      if (e == '.' || e == '/' || e == '-' || e == '+' || e == '(' || e == ')' || e == '[' ||
          e == ']' || e == '*' || e == '?' || e == '\\' || e == '|' || e == '{' || e == '}' ||
          e == '^' || e == '$') {
        current.push_back(e);
        ++i;
        continue;
      }
      return std::nullopt;
    }
    if (!isLiteralChar(c)) {
      return std::nullopt;
    }
    current.push_back(c);
  }
  return literals;
}

bool FastContract::matches(std::string_view text) const {
  if (kind_ == Kind::Simple) {
    return simple_->fullMatch(text);
  }
  if (kind_ == Kind::Literals) {
    if ((literal_lengths_ & lengthBit(text.size())) == 0) {
      return false;
    }
    for (const auto& literal : literals_) {
      if (equalBytes(literal, text)) {
        return true;
      }
    }
    return false;
  }
  size_t i = 0;
  if (first_nonzero_) {
    if (text.empty() || text[0] < '1' || text[0] > '9') {
      return false;
    }
    i = 1;
  }
  const size_t rest = text.size() - i;
  if (rest < min_ || rest > max_) {
    return false;
  }
  return allDigits(text.substr(i));
}

} // namespace scrub::rules
