#include "proxy/verify/canary_forms.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <set>
#include <string>

namespace {

using namespace scrub::verify;

const CanaryForm* findForm(const std::vector<CanaryForm>& forms, const std::string& name) {
  for (const auto& form : forms) {
    if (form.name == name) {
      return &form;
    }
  }
  return nullptr;
}

bool hasBytes(const std::vector<CanaryForm>& forms, const std::string& bytes) {
  return std::any_of(forms.begin(), forms.end(),
                     [&](const CanaryForm& form) { return form.bytes == bytes; });
}

} // namespace

TEST_CASE("JSON and \\u escapes, lower and upper hex, surrogate pairs", "[verify][forms]") {
  CHECK(jsonEscaped("Emir \"Emko\" Hodžić") == "Emir \\\"Emko\\\" Hodžić");
  CHECK(jsonEscaped("061/482-913", true) == "061\\/482-913");
  CHECK(jsonEscaped("a\nb\x01") == "a\\nb\\u0001");
  CHECK(uEscaped("Dženana Babić", false, false) == "D\\u017eenana Babi\\u0107");
  CHECK(uEscaped("Dženana Babić", false, true) == "D\\u017Eenana Babi\\u0107");
  CHECK(uEscaped("Ab", true, false) == "\\u0041\\u0062");
  // U+1F600 is beyond the BMP: JSON spells it as a UTF-16 surrogate pair.
  CHECK(uEscaped("Ana😀", false, false) == "Ana\\ud83d\\ude00");
  CHECK(uEscaped("😀", false, true) == "\\uD83D\\uDE00");
}

TEST_CASE("URL encoding of the UTF-8 bytes, + and %20 for space", "[verify][forms]") {
  CHECK(urlEncoded("Dženana Babić", false, true) == "D%C5%BEenana%20Babi%C4%87");
  CHECK(urlEncoded("Dženana Babić", true, true) == "D%C5%BEenana+Babi%C4%87");
  CHECK(urlEncoded("a.b@x-y_z~", false, false) == "a.b%40x-y_z~");
}

TEST_CASE("base64: whole value and the stable middle for each alignment", "[verify][forms]") {
  CHECK(base64("Emir", false) == "RW1pcg==");
  CHECK(base64("Emir", false, false) == "RW1pcg");
  CHECK(base64("Dženana Babić", false) == "RMW+ZW5hbmEgQmFiacSH");
  CHECK(base64("Dženana Babić", true) == "RMW-ZW5hbmEgQmFiacSH");
  // Expected values from Python's base64 module.
  CHECK(base64Stable("Emir Hodžić", 0, false) == "RW1pciBIb2TFvmnEh");
  CHECK(base64Stable("Emir Hodžić", 1, false) == "VtaXIgSG9kxb5pxI");
  CHECK(base64Stable("Emir Hodžić", 2, false) == "FbWlyIEhvZMW+acSH");

  // Property: whatever comes before and after a canary in a base64 stream, the stream contains
  // the stable part for the canary's alignment.
  std::mt19937 rng(42);
  const std::string canary = "Snježana Ćosić";
  for (int round = 0; round < 200; ++round) {
    std::string prefix(rng() % 7, '\0');
    std::string suffix(rng() % 5, '\0');
    for (auto& c : prefix) {
      c = static_cast<char>(rng());
    }
    for (auto& c : suffix) {
      c = static_cast<char>(rng());
    }
    for (const bool url : {false, true}) {
      const std::string stream = base64(prefix + canary + suffix, url);
      const std::string stable = base64Stable(canary, static_cast<int>(prefix.size() % 3), url);
      INFO("prefix " << prefix.size() << " suffix " << suffix.size());
      REQUIRE(stable.size() >= kMinBase64Chars);
      CHECK(stream.find(stable) != std::string::npos);
    }
  }
}

TEST_CASE("Unicode normalisation and case mapping go through utf8proc", "[verify][forms]") {
  const std::string nfc = "Dženana Babić";
  const std::string nfd = "Dz\xcc\x8c"
                          "enana Babic\xcc\x81";
  CHECK(normalizedNfd(nfc) == nfd);
  CHECK(normalizedNfc(nfd) == nfc);
  CHECK(lowerCased("DŽENANA Babić") == "dženana babić");
  CHECK(upperCased("Đurić ćosić") == "ĐURIĆ ĆOSIĆ");
  CHECK(normalizedNfc("\xff\xfe") == "\xff\xfe"); // invalid UTF-8 passes through unchanged
}

TEST_CASE("digits forms only for numbers written in groups", "[verify][forms]") {
  const auto phone = canaryForms("+387 61 482 913");
  REQUIRE(findForm(phone, "digits") != nullptr);
  CHECK(findForm(phone, "digits")->bytes == "38761482913");
  CHECK(findForm(phone, "digits")->digit_bounded);
  REQUIRE(findForm(phone, "digits-00") != nullptr);
  CHECK(findForm(phone, "digits-00")->bytes == "0038761482913");
  CHECK(findForm(canaryForms("2015-08-21"), "digits") != nullptr);
  // Fewer than 7 digits, a decimal number, text with digits: no digits form.
  CHECK(findForm(canaryForms("061 48"), "digits") == nullptr);
  CHECK(findForm(canaryForms("16.225859"), "digits") == nullptr);
  CHECK(findForm(canaryForms("Ferhadija 54, Banja Luka 71000"), "digits") == nullptr);
}

TEST_CASE("canaryForms lists distinct bytes, plainest name first", "[verify][forms]") {
  const auto forms = canaryForms("Emir");
  std::set<std::string> bytes;
  for (const auto& form : forms) {
    CHECK(bytes.insert(form.bytes).second);
  }
  CHECK(forms.front().name == "raw");
  // "Emir" is already NFC, NFD and JSON-safe: those forms are the raw bytes, listed once.
  CHECK(findForm(forms, "json") == nullptr);
  CHECK(findForm(forms, "nfd") == nullptr);
  CHECK(hasBytes(forms, "emir"));
  CHECK(hasBytes(forms, "EMIR"));
  CHECK(hasBytes(forms, "RW1pcg==")); // short: only the whole padded encoding
  CHECK(hasBytes(forms, "\\u0045\\u006d\\u0069\\u0072"));

  const auto name = canaryForms("Dženana Babić");
  CHECK(hasBytes(name, "D\\u017dENANA BABI\\u0106")); // upper + ensure_ascii, as Python writes
  CHECK(hasBytes(name, "Dz\xcc\x8c"
                       "enana Babic\xcc\x81"));
  CHECK(hasBytes(name, "RMW-ZW5hbmEgQmFiacSH"));
}

TEST_CASE("allFormNames covers every name canaryForms produces, in the same order",
          "[verify][forms]") {
  // A canary that exercises every form: quotes and a slash (json variants), non-ASCII in both
  // normal forms (ž precomposed, z + combining caron), astral, a space, 7+ digits, mixed case.
  const std::string probe = "+387 \"61\"/482 913 Žz\xcc\x8c😀";
  const auto& names = allFormNames();
  std::set<std::string> seen;
  // The digits forms need a canary of digits and separators only: a second probe.
  for (const std::string& canary : {probe, std::string("+387 61 482 913")}) {
    size_t last = 0;
    for (const auto& form : canaryForms(canary)) {
      const auto it = std::find(names.begin(), names.end(), form.name);
      INFO(form.name);
      REQUIRE(it != names.end());
      const auto index = static_cast<size_t>(it - names.begin());
      CHECK(index >= last);
      last = index;
      seen.insert(form.name);
    }
  }
  for (const auto& name : names) {
    INFO(name);
    CHECK(seen.count(name) == 1);
  }
}

TEST_CASE("decodeJsonEscapes undoes every JSON escape and leaves the rest", "[verify][forms]") {
  CHECK(decodeJsonEscapes("D\\u017eenana Babić") == "Dženana Babić");
  CHECK(decodeJsonEscapes("\\\"a\\\\b\\/c\\n") == "\"a\\b/c\n");
  CHECK(decodeJsonEscapes("Ana\\ud83d\\ude00") == "Ana😀");
  CHECK(decodeJsonEscapes("x\\ud83d y") == "x\\ud83d y"); // lone surrogate stays as written
  CHECK(decodeJsonEscapes("\\u00zz \\q") == "\\u00zz \\q");
  // One pass per level of JSON inside JSON.
  CHECK(decodeJsonEscapes(decodeJsonEscapes("D\\\\u017e")) == "Dž");
}
