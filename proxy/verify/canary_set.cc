#include "proxy/verify/canary_set.h"

#include <utf8proc.h>

#include <fstream>
#include <map>
#include <sstream>

#include "proxy/verify/canary_forms.h"

namespace scrub::verify {
namespace {

constexpr int kMaxDecodePasses = 3; // the filter decodes JSON inside strings 3 levels deep

bool validUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  auto left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {
      return false;
    }
    p += n;
    left -= n;
  }
  return true;
}

bool isAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

} // namespace

Result<CanarySet> CanarySet::fromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error{path + ": cannot read canaries file"};
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return Error{path + ": read error"};
  }
  return fromText(text.str(), path);
}

Result<CanarySet> CanarySet::fromText(std::string_view text, std::string_view file_name) {
  CanarySet set;
  const auto& base = allFormNames();
  std::map<std::string, uint16_t, std::less<>> form_index;
  for (size_t i = 0; i < base.size(); ++i) {
    form_index.emplace(base[i], static_cast<uint16_t>(i));
    set.form_names_.push_back(base[i]);
  }
  for (const auto& name : base) {
    set.form_names_.push_back("decoded:" + name);
  }

  uint32_t number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty() || line.starts_with("# ") || line == "#") {
      continue;
    }
    const std::string where = std::string(file_name) + ":" + std::to_string(number) + ": ";
    if (line.size() < kMinCanaryBytes) {
      return Error{where + "canary shorter than " + std::to_string(kMinCanaryBytes) +
                   " bytes (it would be found in almost any text)"};
    }
    if (!validUtf8(line)) {
      return Error{where + "canary is not valid UTF-8"};
    }
    const auto canary = static_cast<uint32_t>(set.canaries_.size());
    set.canaries_.push_back({number, std::string(line)});
    for (const CanaryForm& form : canaryForms(line)) {
      const int id = set.matcher_.add(form.bytes);
      if (static_cast<size_t>(id) >= set.entries_.size()) {
        set.entries_.resize(static_cast<size_t>(id) + 1);
      }
      const auto it = form_index.find(form.name);
      set.entries_[static_cast<size_t>(id)].push_back(
          {canary, it == form_index.end() ? uint16_t(0) : it->second, form.digit_bounded});
    }
  }
  if (set.canaries_.empty()) {
    return Error{std::string(file_name) +
                 ": no canaries (a leak test that searches for nothing proves nothing)"};
  }
  set.matcher_.build();
  set.stamp_.assign(set.canaries_.size(), 0);
  set.best_form_.assign(set.canaries_.size(), 0);
  set.best_pass_.assign(set.canaries_.size(), 0);
  return set;
}

void CanarySet::scanOnce(std::string_view text, int pass) {
  matcher_.scan(text, [&](int id, size_t end) {
    for (const Entry& entry : entries_[static_cast<size_t>(id)]) {
      if (entry.digit_bounded) {
        const size_t begin = end - matcher_.patternLength(id);
        if ((begin > 0 && isAlnum(text[begin - 1])) || (end < text.size() && isAlnum(text[end])) ||
            isIdValue(text, begin, end)) {
          continue;
        }
      }
      const uint32_t c = entry.canary;
      if (stamp_[c] != line_stamp_) {
        stamp_[c] = line_stamp_;
        best_pass_[c] = static_cast<uint8_t>(pass);
        best_form_[c] = entry.form;
        found_.push_back(c);
      } else if (best_pass_[c] == pass && entry.form < best_form_[c]) {
        best_form_[c] = entry.form;
      }
    }
  });
}

bool CanarySet::isIdValue(std::string_view text, size_t begin, size_t end) const {
  // Filter output is minified: an id member reads `"_id":123` followed by , } or ].
  if (id_keys_.empty() || begin < 2 || text[begin - 1] != ':' || text[begin - 2] != '"' ||
      (end < text.size() && text[end] != ',' && text[end] != '}' && text[end] != ']')) {
    return false;
  }
  const std::string_view before = text.substr(0, begin - 2);
  for (const auto& key : id_keys_) {
    if (before.size() > key.size() && before.ends_with(key) &&
        before[before.size() - key.size() - 1] == '"') {
      return true;
    }
  }
  return false;
}

void CanarySet::scan(std::string_view line, std::vector<LeakHit>& hits) {
  hits.clear();
  found_.clear();
  if (++line_stamp_ == 0) {
    std::fill(stamp_.begin(), stamp_.end(), 0);
    line_stamp_ = 1;
  }
  scanOnce(line, 0);
  // Escapes can be mixed in ways no single form predicts ("D\u017eenana Babić"); decoding them
  // turns every such spelling back into a plain one. Canaries already found keep their form.
  std::string_view current = line;
  for (int pass = 1; pass <= kMaxDecodePasses; ++pass) {
    if (current.find('\\') == std::string_view::npos) {
      break;
    }
    std::string& decoded = decoded_[pass % 2];
    decoded = decodeJsonEscapes(current);
    if (decoded == current) {
      break;
    }
    scanOnce(decoded, pass);
    current = decoded;
  }
  const size_t base = allFormNames().size();
  for (uint32_t c : found_) {
    const size_t form = best_pass_[c] == 0 ? best_form_[c] : base + best_form_[c];
    hits.push_back({c, form_names_[form]});
  }
}

} // namespace scrub::verify
