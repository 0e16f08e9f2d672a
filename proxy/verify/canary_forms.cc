#include "proxy/verify/canary_forms.h"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>
#include <set>

namespace scrub::verify {
namespace {

constexpr char kLowerHex[] = "0123456789abcdef";
constexpr char kUpperHex[] = "0123456789ABCDEF";

// Code points of `text`; false when it is not valid UTF-8.
bool decodeUtf8(std::string_view text, std::vector<int32_t>& out) {
  out.clear();
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  auto left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {
      return false;
    }
    out.push_back(cp);
    p += n;
    left -= n;
  }
  return true;
}

void appendUtf8(std::string& out, int32_t cp) {
  utf8proc_uint8_t buffer[4];
  const utf8proc_ssize_t n = utf8proc_encode_char(cp, buffer);
  out.append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}

void appendU16(std::string& out, uint32_t unit, bool upper_hex) {
  const char* hex = upper_hex ? kUpperHex : kLowerHex;
  out.append("\\u");
  for (int shift = 12; shift >= 0; shift -= 4) {
    out.push_back(hex[(unit >> shift) & 15]);
  }
}

std::string normalized(std::string_view text, utf8proc_option_t options) {
  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &result, options);
  if (n < 0) {
    return std::string(text);
  }
  // utf8proc allocates with malloc; own it until copied.
  const std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(result, &std::free);
  return {reinterpret_cast<const char*>(result), static_cast<size_t>(n)};
}

template <typename Map> std::string caseMapped(std::string_view text, Map map) {
  std::vector<int32_t> cps;
  if (!decodeUtf8(text, cps)) {
    return std::string(text);
  }
  std::string out;
  for (int32_t cp : cps) {
    appendUtf8(out, map(cp));
  }
  return out;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// The 4 hex digits at text[at..at+4) as a number, or -1.
int32_t hex4(std::string_view text, size_t at) {
  if (at + 4 > text.size()) {
    return -1;
  }
  int32_t value = 0;
  for (size_t i = at; i < at + 4; ++i) {
    const int digit = hexValue(text[i]);
    if (digit < 0) {
      return -1;
    }
    value = value * 16 + digit;
  }
  return value;
}

class FormList {
public:
  void add(std::string name, std::string bytes, bool digit_bounded = false) {
    if (bytes.empty() || !seen_.insert(bytes).second) {
      return;
    }
    forms_.push_back({std::move(name), std::move(bytes), digit_bounded});
  }
  std::vector<CanaryForm> take() { return std::move(forms_); }

private:
  std::set<std::string> seen_;
  std::vector<CanaryForm> forms_;
};

} // namespace

std::string jsonEscaped(std::string_view text, bool escape_slash) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
    case '"':
      out.append("\\\"");
      break;
    case '\\':
      out.append("\\\\");
      break;
    case '\n':
      out.append("\\n");
      break;
    case '\r':
      out.append("\\r");
      break;
    case '\t':
      out.append("\\t");
      break;
    case '\b':
      out.append("\\b");
      break;
    case '\f':
      out.append("\\f");
      break;
    case '/':
      out.append(escape_slash ? "\\/" : "/");
      break;
    default:
      if (c < 0x20) {
        appendU16(out, c, false);
      } else {
        out.push_back(ch);
      }
    }
  }
  return out;
}

std::string uEscaped(std::string_view text, bool all, bool upper_hex) {
  std::vector<int32_t> cps;
  if (!decodeUtf8(text, cps)) {
    return jsonEscaped(text);
  }
  std::string out;
  for (int32_t cp : cps) {
    if (!all && cp < 0x80) {
      out.append(jsonEscaped(std::string(1, static_cast<char>(cp))));
      continue;
    }
    if (cp >= 0x10000) {
      const auto v = static_cast<uint32_t>(cp - 0x10000);
      appendU16(out, 0xD800 + (v >> 10), upper_hex);
      appendU16(out, 0xDC00 + (v & 0x3FF), upper_hex);
    } else {
      appendU16(out, static_cast<uint32_t>(cp), upper_hex);
    }
  }
  return out;
}

std::string urlEncoded(std::string_view text, bool plus_for_space, bool upper_hex) {
  const char* hex = upper_hex ? kUpperHex : kLowerHex;
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else if (c == ' ' && plus_for_space) {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string base64(std::string_view bytes, bool url_safe, bool pad) {
  const char* alphabet = url_safe
                             ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                             : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  auto byte = [&](size_t at) {
    return static_cast<uint32_t>(static_cast<unsigned char>(bytes[at]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int shift = 18; shift >= 0; shift -= 6) {
      out.push_back(alphabet[(v >> shift) & 63]);
    }
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    const uint32_t v = byte(i) << 16 | (rest > 1 ? byte(i + 1) << 8 : 0);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (rest > 1) {
      out.push_back(alphabet[(v >> 6) & 63]);
    }
    if (pad) {
      out.append(3 - rest, '=');
    }
  }
  return out;
}

std::string base64Stable(std::string_view text, int align, bool url_safe) {
  // Output character k carries input bits [6k, 6k + 6). It depends only on the canary when
  // those bits lie inside the canary's bytes [align, align + n).
  const size_t n = text.size();
  const auto a = static_cast<size_t>(align);
  const size_t first = (8 * a + 5) / 6;
  if (8 * (a + n) < 6) {
    return {};
  }
  const size_t last = (8 * (a + n) - 6) / 6;
  if (last < first) {
    return {};
  }
  std::string input(a, '\0');
  input.append(text);
  const std::string encoded = base64(input, url_safe, false);
  return encoded.substr(first, last - first + 1);
}

std::string normalizedNfc(std::string_view text) {
  return normalized(text, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
}

std::string normalizedNfd(std::string_view text) {
  return normalized(text, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE));
}

std::string lowerCased(std::string_view text) {
  return caseMapped(text, [](int32_t cp) { return utf8proc_tolower(cp); });
}

std::string upperCased(std::string_view text) {
  return caseMapped(text, [](int32_t cp) { return utf8proc_toupper(cp); });
}

bool digitsWithSeparators(std::string_view text) {
  for (const char c : text) {
    const bool ok = (c >= '0' && c <= '9') || c == ' ' || c == '-' || c == '/' || c == '(' ||
                    c == ')' || c == '+';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string digitsOnly(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c >= '0' && c <= '9') {
      out.push_back(c);
    }
  }
  return out;
}

std::string decodeJsonEscapes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c != '\\' || i + 1 >= text.size()) {
      out.push_back(c);
      ++i;
      continue;
    }
    const char e = text[i + 1];
    const char* simple = nullptr;
    switch (e) {
    case '"':
      simple = "\"";
      break;
    case '\\':
      simple = "\\";
      break;
    case '/':
      simple = "/";
      break;
    case 'b':
      simple = "\b";
      break;
    case 'f':
      simple = "\f";
      break;
    case 'n':
      simple = "\n";
      break;
    case 'r':
      simple = "\r";
      break;
    case 't':
      simple = "\t";
      break;
    default:
      break;
    }
    if (simple != nullptr) {
      out.append(simple);
      i += 2;
      continue;
    }
    const int32_t unit = e == 'u' ? hex4(text, i + 2) : -1;
    if (unit < 0) {
      out.push_back(c);
      ++i;
      continue;
    }
    if (unit >= 0xD800 && unit < 0xDC00 && i + 12 <= text.size() && text[i + 6] == '\\' &&
        text[i + 7] == 'u') {
      const int32_t low = hex4(text, i + 8);
      if (low >= 0xDC00 && low < 0xE000) {
        appendUtf8(out, 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00));
        i += 12;
        continue;
      }
    }
    if (unit >= 0xD800 && unit < 0xE000) {
      // A lone surrogate encodes nothing; keep the escape as written.
      out.append(text.substr(i, 6));
    } else {
      appendUtf8(out, unit);
    }
    i += 6;
  }
  return out;
}

const std::vector<std::string>& allFormNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names = {
        "raw",       "json",           "json-slash",   "json-double",
        "u-escape",  "u-escape-upper", "u-escape-all", "u-escape-all-upper",
        "digits",    "digits-00",      "url",          "url-plus",
        "url-lower", "base64",         "base64url"};
    for (const std::string prefix : {"nfc", "nfd", "lower", "upper"}) {
      names.push_back(prefix);
      for (const char* suffix : {"+json", "+u-escape", "+u-escape-upper"}) {
        names.push_back(prefix + suffix);
      }
      if (prefix == "nfc" || prefix == "nfd") {
        names.push_back(prefix + "+url");
        names.push_back(prefix + "+url-plus");
      }
    }
    return names;
  }();
  return kNames;
}

std::vector<CanaryForm> canaryForms(std::string_view canary) {
  FormList forms;
  const std::string raw(canary);
  forms.add("raw", raw);
  forms.add("json", jsonEscaped(raw));
  forms.add("json-slash", jsonEscaped(raw, true));
  forms.add("json-double", jsonEscaped(jsonEscaped(raw)));
  forms.add("u-escape", uEscaped(raw, false, false));
  forms.add("u-escape-upper", uEscaped(raw, false, true));
  forms.add("u-escape-all", uEscaped(raw, true, false));
  forms.add("u-escape-all-upper", uEscaped(raw, true, true));

  const std::string digits = digitsOnly(raw);
  if (digits.size() >= kMinDigits && digitsWithSeparators(raw)) {
    forms.add("digits", digits, true);
    if (raw.starts_with('+')) {
      // +387 61 482 913 dialled from abroad: 0038761482913.
      forms.add("digits-00", "00" + digits, true);
    }
  }

  forms.add("url", urlEncoded(raw, false, true));
  forms.add("url-plus", urlEncoded(raw, true, true));
  forms.add("url-lower", urlEncoded(raw, false, false));

  for (const bool url_safe : {false, true}) {
    const char* name = url_safe ? "base64url" : "base64";
    for (int align = 0; align < 3; ++align) {
      std::string stable = base64Stable(raw, align, url_safe);
      if (stable.size() >= kMinBase64Chars) {
        forms.add(name, std::move(stable));
      }
    }
    // The whole value encoded on its own (or last in its stream): padding makes it distinctive
    // even for a short canary.
    std::string whole = base64(raw, url_safe, true);
    if (whole.size() >= kMinBase64Chars) {
      forms.add(name, std::move(whole));
    }
  }

  // Variants of the text itself, each also as a JSON encoder with ensure_ascii would write it.
  const std::pair<const char*, std::string> variants[] = {
      {"nfc", normalizedNfc(raw)},
      {"nfd", normalizedNfd(raw)},
      {"lower", lowerCased(raw)},
      {"upper", upperCased(raw)},
  };
  for (const auto& [name, text] : variants) {
    const std::string prefix(name);
    forms.add(prefix, text);
    forms.add(prefix + "+json", jsonEscaped(text));
    forms.add(prefix + "+u-escape", uEscaped(text, false, false));
    forms.add(prefix + "+u-escape-upper", uEscaped(text, false, true));
    if (prefix == "nfc" || prefix == "nfd") {
      forms.add(prefix + "+url", urlEncoded(text, false, true));
      forms.add(prefix + "+url-plus", urlEncoded(text, true, true));
    }
  }
  return forms.take();
}

} // namespace scrub::verify
