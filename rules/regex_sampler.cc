#include "rules/regex_sampler.h"

#include <memory>

namespace scrub::rules {
namespace {

class Random {
public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    // splitmix64: tiny, and the same on every platform.
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }

private:
  uint64_t state_;
};

// A parsed expression: a tree of alternations, sequences, repeats and character sets.
struct Node {
  enum class Kind { Alternation, Sequence, Repeat, CharSet, Empty } kind = Kind::Empty;
  std::vector<std::unique_ptr<Node>> children;
  int min = 0;
  int max = 0;             // -1: unbounded
  std::vector<char> chars; // for CharSet: the characters to draw from
};
using NodePtr = std::unique_ptr<Node>;

std::vector<char> printable() {
  std::vector<char> out;
  for (int c = 0x20; c < 0x7f; ++c) {
    out.push_back(static_cast<char>(c));
  }
  return out;
}

std::vector<char> classFor(char escape, bool& ok) {
  std::vector<char> out;
  auto range = [&](char a, char b) {
    for (int c = a; c <= b; ++c) {
      out.push_back(static_cast<char>(c));
    }
  };
  switch (escape) {
  case 'd':
    range('0', '9');
    break;
  case 'w':
    range('a', 'z');
    range('A', 'Z');
    range('0', '9');
    out.push_back('_');
    break;
  case 's':
    out = {' ', '\t'};
    break;
  case 'D':
    range('a', 'z');
    out.push_back(' ');
    break;
  case 'W':
  case 'S':
    out = {'-', '.', '/', '!'};
    break;
  default:
    ok = false;
  }
  return out;
}

class Parser {
public:
  explicit Parser(std::string_view text) : text_(text) {}

  NodePtr parse() {
    NodePtr node = alternation();
    if (pos_ != text_.size()) {
      ok_ = false;
    }
    return node;
  }
  bool ok() const { return ok_; }

private:
  NodePtr alternation() {
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::Alternation;
    node->children.push_back(sequence());
    while (pos_ < text_.size() && text_[pos_] == '|') {
      ++pos_;
      node->children.push_back(sequence());
    }
    return node;
  }

  NodePtr sequence() {
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::Sequence;
    while (ok_ && pos_ < text_.size() && text_[pos_] != '|' && text_[pos_] != ')') {
      NodePtr atom_node = atom();
      if (!atom_node) {
        continue;
      }
      node->children.push_back(quantified(std::move(atom_node)));
    }
    return node;
  }

  NodePtr quantified(NodePtr atom_node) {
    while (pos_ < text_.size()) {
      int min = 0;
      int max = 0;
      const char c = text_[pos_];
      if (c == '?') {
        min = 0, max = 1;
        ++pos_;
      } else if (c == '*') {
        min = 0, max = -1;
        ++pos_;
      } else if (c == '+') {
        min = 1, max = -1;
        ++pos_;
      } else if (c == '{') {
        const size_t close = text_.find('}', pos_);
        if (close == std::string_view::npos) {
          ok_ = false;
          return atom_node;
        }
        const std::string body(text_.substr(pos_ + 1, close - pos_ - 1));
        const size_t comma = body.find(',');
        try {
          min = std::stoi(body.substr(0, comma));
          max = comma == std::string::npos ? min
                : comma + 1 == body.size() ? -1
                                           : std::stoi(body.substr(comma + 1));
        } catch (...) {
          ok_ = false;
          return atom_node;
        }
        pos_ = close + 1;
      } else {
        return atom_node;
      }
      if (pos_ < text_.size() && text_[pos_] == '?') {
        ++pos_; // lazy: same language
      }
      auto repeat = std::make_unique<Node>();
      repeat->kind = Node::Kind::Repeat;
      repeat->min = min;
      repeat->max = max;
      repeat->children.push_back(std::move(atom_node));
      atom_node = std::move(repeat);
    }
    return atom_node;
  }

  NodePtr charset(std::vector<char> chars) {
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::CharSet;
    node->chars = std::move(chars);
    if (node->chars.empty()) {
      ok_ = false;
    }
    return node;
  }

  NodePtr atom() {
    const char c = text_[pos_];
    if (c == '(') {
      ++pos_;
      if (text_.substr(pos_).starts_with("?:")) {
        pos_ += 2;
      } else if (text_.substr(pos_).starts_with("?P<")) {
        pos_ = text_.find('>', pos_) + 1;
      } else if (pos_ < text_.size() && text_[pos_] == '?') {
        // An inline flag group such as (?i): case folding does not change which strings of
        // digits and punctuation match, and letters are drawn in lower case.
        const size_t close = text_.find_first_of(":)", pos_);
        if (close == std::string_view::npos) {
          ok_ = false;
          return nullptr;
        }
        pos_ = close + 1;
        if (text_[close] == ')') {
          return nullptr;
        }
        // (?i:...) is a group with flags: its contents are drawn like any group's.
      }
      NodePtr inner = alternation();
      if (pos_ >= text_.size() || text_[pos_] != ')') {
        ok_ = false;
        return nullptr;
      }
      ++pos_;
      return inner;
    }
    if (c == '^' || c == '$') {
      ++pos_;
      return nullptr;
    }
    if (c == '.') {
      ++pos_;
      return charset(printable());
    }
    if (c == '[') {
      return bracket();
    }
    if (c == '\\') {
      if (pos_ + 1 >= text_.size()) {
        ok_ = false;
        return nullptr;
      }
      const char e = text_[pos_ + 1];
      pos_ += 2;
      if (e == 'b' || e == 'B' || e == 'A' || e == 'z') {
        return nullptr; // zero-width
      }
      if (std::string_view("dwsDWS").find(e) != std::string_view::npos) {
        bool ok = true;
        auto chars = classFor(e, ok);
        ok_ = ok_ && ok;
        return charset(std::move(chars));
      }
      if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
        ok_ = false; // \p{..}, \x.., back-references: not sampled
        return nullptr;
      }
      return charset({e});
    }
    if (c == ')' || c == '|' || c == '*' || c == '+' || c == '?' || c == '{') {
      ok_ = false;
      ++pos_;
      return nullptr;
    }
    ++pos_;
    return charset({c});
  }

  NodePtr bracket() {
    ++pos_;
    bool negate = false;
    if (pos_ < text_.size() && text_[pos_] == '^') {
      negate = true;
      ++pos_;
    }
    std::vector<bool> in(128, false);
    bool first = true;
    while (pos_ < text_.size() && (text_[pos_] != ']' || first)) {
      first = false;
      char c = text_[pos_];
      if (c == '\\' && pos_ + 1 < text_.size()) {
        const char e = text_[pos_ + 1];
        pos_ += 2;
        if (std::string_view("dwsDWS").find(e) != std::string_view::npos) {
          bool ok = true;
          for (char x : classFor(e, ok)) {
            in[static_cast<unsigned char>(x)] = true;
          }
          ok_ = ok_ && ok;
          continue;
        }
        c = e == 't' ? '\t' : e == 'n' ? '\n' : e;
      } else if (c == '[' && text_.substr(pos_).starts_with("[:")) {
        ok_ = false;
        return nullptr;
      } else {
        ++pos_;
      }
      if (pos_ + 1 < text_.size() && text_[pos_] == '-' && text_[pos_ + 1] != ']') {
        char end = text_[pos_ + 1];
        pos_ += 2;
        if (end == '\\' && pos_ < text_.size()) {
          end = text_[pos_++];
        }
        if (static_cast<unsigned char>(c) >= 128 || static_cast<unsigned char>(end) >= 128) {
          continue;
        }
        for (int x = c; x <= end; ++x) {
          in[x] = true;
        }
        continue;
      }
      if (static_cast<unsigned char>(c) < 128) {
        in[static_cast<unsigned char>(c)] = true;
      }
    }
    if (pos_ >= text_.size()) {
      ok_ = false;
      return nullptr;
    }
    ++pos_; // ']'
    std::vector<char> chars;
    for (int x = 0x20; x < 0x7f; ++x) {
      if (in[x] != negate) {
        chars.push_back(static_cast<char>(x));
      }
    }
    return charset(std::move(chars));
  }

  std::string_view text_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Nested bounded repeats multiply (`((a{1000}){1000}){1000}` is 10^9 bytes, which the fuzzer
// found as a rule file that stalled loading): drawing stops at this size and such a sample is
// discarded, so the lint judges only what it could draw whole.
constexpr size_t kMaxSampleBytes = 4096;

void draw(const Node& node, Random& random, int max_repeat, std::string& out) {
  if (out.size() > kMaxSampleBytes) {
    return;
  }
  switch (node.kind) {
  case Node::Kind::Empty:
    return;
  case Node::Kind::CharSet:
    out.push_back(node.chars[random.below(node.chars.size())]);
    return;
  case Node::Kind::Sequence:
    for (const auto& child : node.children) {
      draw(*child, random, max_repeat, out);
    }
    return;
  case Node::Kind::Alternation:
    draw(*node.children[random.below(node.children.size())], random, max_repeat, out);
    return;
  case Node::Kind::Repeat: {
    const int max = node.max < 0 ? node.min + max_repeat : node.max;
    // Favour the ends of the range: lengths at the bounds are where contracts and detectors
    // meet most often (a 13-digit id against a 13-digit personal number).
    int n = node.min;
    switch (random.below(3)) {
    case 0:
      n = node.min;
      break;
    case 1:
      n = max;
      break;
    default:
      n = node.min + static_cast<int>(random.below(static_cast<size_t>(max - node.min + 1)));
    }
    for (int i = 0; i < n && out.size() <= kMaxSampleBytes; ++i) {
      draw(*node.children[0], random, max_repeat, out);
    }
    return;
  }
  }
}

} // namespace

std::optional<std::vector<std::string>> sampleRegex(std::string_view pattern, size_t count,
                                                    uint64_t seed, int max_repeat) {
  Parser parser(pattern);
  NodePtr root = parser.parse();
  if (!parser.ok() || !root) {
    return std::nullopt;
  }
  Random random(seed);
  std::vector<std::string> samples;
  samples.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    std::string sample;
    draw(*root, random, max_repeat, sample);
    if (sample.size() <= kMaxSampleBytes) {
      samples.push_back(std::move(sample));
    }
  }
  return samples;
}

} // namespace scrub::rules
