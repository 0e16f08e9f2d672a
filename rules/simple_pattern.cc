#include "rules/simple_pattern.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "rules/equal_bytes.h"

namespace scrub::rules {
namespace {

constexpr uint32_t kUnbounded = UINT32_MAX;
constexpr int kMaxNesting = 16;

bool isPunctuation(char c) {
  return std::strchr(".-/+()[]*?\\|{}^$", c) != nullptr && c != '\0';
}

bool isPlainLiteral(char c) {
  // Printable ASCII that is not a metacharacter outside a class.
  return c >= 0x20 && c < 0x7f && std::strchr(".^$*+?()[]{}|\\", c) == nullptr;
}

} // namespace

// Recursive descent over the subset; any construct it does not know fails the whole pattern.
class SimplePattern::Parser {
public:
  explicit Parser(std::string_view pattern) : p_(pattern) {}

  std::optional<std::vector<Sequence>> alternatives(int nesting) {
    if (nesting > kMaxNesting) {
      return std::nullopt;
    }
    std::vector<Sequence> result;
    while (true) {
      auto seq = sequence(nesting);
      if (!seq) {
        return std::nullopt;
      }
      result.push_back(std::move(*seq));
      if (at_ < p_.size() && p_[at_] == '|') {
        ++at_;
        continue;
      }
      return result;
    }
  }

  bool done() const { return at_ == p_.size(); }

private:
  std::optional<Sequence> sequence(int nesting) {
    Sequence seq;
    while (at_ < p_.size() && p_[at_] != '|' && p_[at_] != ')') {
      Node node;
      const char c = p_[at_];
      if (c == '(') {
        ++at_;
        if (p_.substr(at_).starts_with("?:")) {
          at_ += 2;
        } else if (at_ < p_.size() && p_[at_] == '?') {
          return std::nullopt; // flags, named groups
        }
        auto alts = alternatives(nesting + 1);
        if (!alts || at_ >= p_.size() || p_[at_] != ')') {
          return std::nullopt;
        }
        ++at_;
        node.kind = Node::Kind::Group;
        node.alternatives = std::move(*alts);
      } else if (c == '[') {
        ++at_;
        if (!byteClass(node.set)) {
          return std::nullopt;
        }
        node.kind = Node::Kind::Run;
      } else if (c == '\\') {
        char escaped = 0; // the same escapes as inside a class
        if (!classByte(escaped, node.set)) {
          return std::nullopt;
        }
        if (escaped != 0) {
          node.set.add(static_cast<unsigned char>(escaped));
        }
        node.kind = Node::Kind::Run;
      } else if (isPlainLiteral(c)) {
        ++at_;
        node.kind = Node::Kind::Run;
        node.set.add(static_cast<unsigned char>(c));
      } else {
        return std::nullopt;
      }
      if (!quantifier(node)) {
        return std::nullopt;
      }
      append(seq, std::move(node));
    }
    return seq;
  }

  // A single byte, once, joins the literal before it: matched with one compare.
  static void append(Sequence& seq, Node node) {
    const bool single = node.kind == Node::Kind::Run && node.min == 1 && node.max == 1;
    int only = -1;
    if (single) {
      for (int c = 0; c < 128; ++c) {
        if (node.set.has(static_cast<unsigned char>(c))) {
          if (only >= 0) {
            only = -2;
            break;
          }
          only = c;
        }
      }
    }
    if (only < 0) {
      seq.push_back(std::move(node));
      return;
    }
    if (seq.empty() || seq.back().kind != Node::Kind::Literal) {
      Node literal;
      literal.kind = Node::Kind::Literal;
      seq.push_back(std::move(literal));
    }
    seq.back().literal.push_back(static_cast<char>(only));
  }

  bool quantifier(Node& node) {
    if (at_ >= p_.size()) {
      return true;
    }
    const char q = p_[at_];
    uint32_t min = 1;
    uint32_t max = 1;
    if (q == '?') {
      min = 0;
    } else if (q == '*') {
      min = 0;
      max = kUnbounded;
    } else if (q == '+') {
      max = kUnbounded;
    } else if (q == '{') {
      if (!repeat(min, max)) {
        return false;
      }
    } else {
      return true;
    }
    if (q != '{') {
      ++at_;
    }
    if (at_ < p_.size() && std::strchr("?*+{", p_[at_]) != nullptr) {
      return false; // non-greedy or stacked repetition
    }
    if (node.kind == Node::Kind::Group) {
      if (min != 0 || max != 1) {
        return false;
      }
      node.optional = true;
      return true;
    }
    if (max == 0) {
      return false;
    }
    node.min = min;
    node.max = max;
    return true;
  }

  // `{m}`, `{m,}` or `{m,n}` at at_; leaves at_ just past the '}'.
  bool repeat(uint32_t& min, uint32_t& max) {
    size_t i = at_ + 1;
    auto number = [&](uint32_t& out) {
      const size_t from = i;
      uint32_t value = 0;
      while (i < p_.size() && p_[i] >= '0' && p_[i] <= '9' && i - from < 5) {
        value = value * 10 + static_cast<uint32_t>(p_[i] - '0');
        ++i;
      }
      out = value;
      // RE2 reads `{05}` as literal text, not a count (no leading zeros): refuse it.
      return i > from && !(i - from > 1 && p_[from] == '0');
    };
    if (!number(min)) {
      return false;
    }
    max = min;
    if (i < p_.size() && p_[i] == ',') {
      ++i;
      if (i < p_.size() && p_[i] == '}') {
        max = kUnbounded; // `{m,}`
      } else if (!number(max)) {
        return false;
      }
    }
    if (i >= p_.size() || p_[i] != '}' || min > max || min > 1000 ||
        (max != kUnbounded && max > 1000)) {
      return false;
    }
    at_ = i + 1;
    return true;
  }

  static void addRange(ByteSet& set, char from, char to) {
    for (int c = from; c <= to; ++c) {
      set.add(static_cast<unsigned char>(c));
    }
  }

  // After '['; consumes through ']'.
  bool byteClass(ByteSet& set) {
    if (at_ < p_.size() && (p_[at_] == '^' || p_[at_] == ']')) {
      return false; // negated (matches non-ASCII too) or a leading literal ']'
    }
    bool any = false;
    while (at_ < p_.size() && p_[at_] != ']') {
      char from = 0;
      if (!classByte(from, set)) {
        return false;
      }
      if (from == 0) { // \d was added whole
        any = true;
        continue;
      }
      if (at_ + 1 < p_.size() && p_[at_] == '-' && p_[at_ + 1] != ']') {
        ++at_;
        ByteSet ignored;
        char to = 0;
        if (!classByte(to, ignored) || to == 0 || to < from) {
          return false;
        }
        addRange(set, from, to);
      } else {
        set.add(static_cast<unsigned char>(from));
      }
      any = true;
    }
    if (at_ >= p_.size() || !any) {
      return false;
    }
    ++at_; // ']'
    return true;
  }

  // One class member: sets `c`, or adds \d to `set` and leaves `c` 0.
  bool classByte(char& c, ByteSet& set) {
    const char b = p_[at_];
    if (b == '\\') {
      if (at_ + 1 >= p_.size()) {
        return false;
      }
      const char e = p_[at_ + 1];
      at_ += 2;
      if (e == 'd') {
        addRange(set, '0', '9');
        c = 0;
        return true;
      }
      if (!isPunctuation(e)) {
        return false;
      }
      c = e;
      return true;
    }
    // '[' could open a POSIX class ([:alpha:]); anything outside printable ASCII is refused.
    if (b < 0x20 || b >= 0x7f || b == '[') {
      return false;
    }
    ++at_;
    c = b;
    return true;
  }

  std::string_view p_;
  size_t at_ = 0;
};

std::optional<SimplePattern> SimplePattern::compile(std::string_view pattern) {
  if (pattern.size() > 1024) {
    return std::nullopt;
  }
  if (pattern.starts_with("^")) {
    pattern.remove_prefix(1);
  }
  if (pattern.ends_with("$") && !pattern.ends_with("\\$")) {
    pattern.remove_suffix(1);
  }
  Parser parser(pattern);
  auto branches = parser.alternatives(0);
  if (!branches || !parser.done()) {
    return std::nullopt;
  }
  // `(a|b|c)` around the whole pattern: its alternatives are top-level ones, tried in turn.
  if (branches->size() == 1 && (*branches)[0].size() == 1 &&
      (*branches)[0][0].kind == Node::Kind::Group && !(*branches)[0][0].optional) {
    std::vector<Sequence> inner = std::move((*branches)[0][0].alternatives);
    *branches = std::move(inner);
  }
  SimplePattern compiled;
  for (auto& sequence : *branches) {
    if (!analyse(sequence, ByteSet{})) {
      return std::nullopt;
    }
    Branch branch;
    branch.nullable = startOf(sequence, branch.first);
    branch.min_length = minLength(sequence);
    branch.sequence = std::move(sequence);
    buildLayout(branch);
    compiled.branches_.push_back(std::move(branch));
  }
  return compiled;
}

void SimplePattern::buildLayout(Branch& branch) {
  constexpr size_t kMaxLayoutBytes = 256;
  std::vector<FixedLayout::ByteBits> positions;
  size_t nodes = 0;
  for (const Node& node : branch.sequence) {
    const bool fixed =
        node.kind == Node::Kind::Literal || (node.kind == Node::Kind::Run && node.min == node.max);
    if (!fixed) {
      break;
    }
    const size_t width = node.kind == Node::Kind::Literal ? node.literal.size() : node.min;
    if (positions.size() + width > kMaxLayoutBytes) {
      break;
    }
    for (size_t i = 0; i < width; ++i) {
      ByteSet one;
      if (node.kind == Node::Kind::Literal) {
        one.add(static_cast<unsigned char>(node.literal[i]));
      } else {
        one = node.set;
      }
      positions.push_back(one.bits);
    }
    ++nodes;
  }
  branch.layout = FixedLayout::build(positions);
  branch.layout_nodes = branch.layout ? nodes : 0;
}

bool SimplePattern::startOf(const Sequence& sequence, ByteSet& first) {
  for (const Node& node : sequence) {
    first.add(node.first);
    if (!node.nullable) {
      return false;
    }
  }
  return true;
}

size_t SimplePattern::minLength(const Sequence& sequence) {
  size_t length = 0;
  for (const Node& node : sequence) {
    switch (node.kind) {
    case Node::Kind::Literal:
      length += node.literal.size();
      break;
    case Node::Kind::Run:
      length += node.min;
      break;
    case Node::Kind::Group: {
      if (node.optional) {
        break;
      }
      size_t shortest = SIZE_MAX;
      for (const Sequence& alternative : node.alternatives) {
        shortest = std::min(shortest, minLength(alternative));
      }
      length += shortest;
      break;
    }
    }
  }
  return length;
}

// Fills first/nullable from the back, given what may follow the sequence, and refuses the
// sequence where one pass could choose wrong.
bool SimplePattern::analyse(Sequence& sequence, const ByteSet& follow) {
  ByteSet after = follow; // what may come right after the node being looked at
  for (size_t i = sequence.size(); i-- > 0;) {
    Node& node = sequence[i];
    node.first = ByteSet{};
    switch (node.kind) {
    case Node::Kind::Literal:
      node.first.add(static_cast<unsigned char>(node.literal[0]));
      node.nullable = false;
      break;
    case Node::Kind::Run:
      for (int c = 0; c < 256; ++c) {
        node.in_set[static_cast<size_t>(c)] = node.set.has(static_cast<unsigned char>(c)) ? 1 : 0;
      }
      node.first = node.set;
      node.nullable = node.min == 0;
      // A run of varying length stops at the first byte outside its set: that byte must not be
      // one the run could also have taken.
      if (node.min != node.max && node.set.meets(after)) {
        return false;
      }
      break;
    case Node::Kind::Group:
      node.nullable = node.optional;
      node.alternative_first.clear();
      node.empty_alternative = -1;
      for (size_t a = 0; a < node.alternatives.size(); ++a) {
        Sequence& alternative = node.alternatives[a];
        if (!analyse(alternative, after)) {
          return false;
        }
        ByteSet first;
        const bool nullable = startOf(alternative, first);
        if (first.meets(node.first)) {
          return false; // two alternatives start alike: the first byte cannot choose
        }
        node.first.add(first);
        node.alternative_first.push_back(first);
        if (nullable) {
          node.nullable = true;
          if (node.empty_alternative < 0) {
            node.empty_alternative = static_cast<int>(a);
          }
        }
      }
      // Taken or skipped by the next byte: it must not be one that could follow instead.
      if (node.nullable && node.first.meets(after)) {
        return false;
      }
      break;
    }
    if (node.nullable) {
      after.add(node.first);
    } else {
      after = node.first;
    }
  }
  return true;
}

bool SimplePattern::matchNodes(const Node* first, const Node* last, const char*& at,
                               const char* end) {
  for (const Node* it = first; it != last; ++it) {
    const Node& node = *it;
    switch (node.kind) {
    case Node::Kind::Literal: {
      const size_t n = node.literal.size();
      if (static_cast<size_t>(end - at) < n || !equalBytes({at, n}, node.literal)) {
        return false;
      }
      at += n;
      break;
    }
    case Node::Kind::Run: {
      const uint8_t* in_set = node.in_set.data();
      if (node.min == node.max) { // fixed width (uuid groups, dates): no branch per byte
        if (static_cast<size_t>(end - at) < node.min) {
          return false;
        }
        uint8_t all = 1;
        for (uint32_t i = 0; i < node.min; ++i) {
          all &= in_set[static_cast<unsigned char>(at[i])];
        }
        if (all == 0) {
          return false;
        }
        at += node.min;
        break;
      }
      const char* p = at;
      const char* stop = static_cast<size_t>(end - at) > node.max ? at + node.max : end;
      while (p < stop && in_set[static_cast<unsigned char>(*p)] != 0) {
        ++p;
      }
      if (static_cast<size_t>(p - at) < node.min) {
        return false;
      }
      at = p;
      break;
    }
    case Node::Kind::Group: {
      // The alternative that can start with the next byte; else the one that can be empty;
      // else nothing, if the group is optional.
      int chosen = node.empty_alternative;
      if (at < end) {
        const auto next = static_cast<unsigned char>(*at);
        for (size_t a = 0; a < node.alternative_first.size(); ++a) {
          if (node.alternative_first[a].has(next)) {
            chosen = static_cast<int>(a);
            break;
          }
        }
      }
      if (chosen < 0) {
        if (node.optional) {
          break;
        }
        return false;
      }
      if (!matchSequence(node.alternatives[static_cast<size_t>(chosen)], at, end)) {
        return false;
      }
      break;
    }
    }
  }
  return true;
}

bool SimplePattern::fullMatch(std::string_view text) const {
  for (const Branch& branch : branches_) {
    if (text.size() < branch.min_length) {
      continue;
    }
    if (text.empty() ? !branch.nullable : !branch.first.has(static_cast<unsigned char>(text[0]))) {
      continue;
    }
    const char* at = text.data();
    const char* end = text.data() + text.size();
    const Node* first = branch.sequence.data();
    if (branch.layout) {
      // min_length covers the layout, so the text holds all of it.
      if (!branch.layout->matches(at)) {
        continue;
      }
      at += branch.layout->size();
      first += branch.layout_nodes;
    }
    if (matchNodes(first, branch.sequence.data() + branch.sequence.size(), at, end) && at == end) {
      return true;
    }
  }
  return false;
}

} // namespace scrub::rules
