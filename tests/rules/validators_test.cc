#include "rules/validators.h"

#include <catch2/catch.hpp>

#include <array>
#include <string>

namespace scrub::rules {
namespace {

// Appends the JMBG check digit to 12 digits, by the documented formula: weights 7 6 5 4 3 2
// 7 6 5 4 3 2, m = 11 - sum % 11, and m > 9 becomes 0. Written independently of validators.cc.
std::string withJmbgCheck(const std::string& twelve) {
  REQUIRE(twelve.size() == 12);
  static constexpr std::array<int, 12> kWeights = {7, 6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
  int sum = 0;
  for (size_t i = 0; i < 12; ++i) {
    sum += kWeights[i] * (twelve[i] - '0');
  }
  int m = 11 - sum % 11;
  if (m > 9) {
    m = 0;
  }
  return twelve + static_cast<char>('0' + m);
}

// The same number with its last digit replaced by every other digit.
std::string withLastDigit(std::string number, char digit) {
  number.back() = digit;
  return number;
}

// Every single-digit substitution of `number` (at digit positions), for checksums that are
// guaranteed to catch one wrong digit.
template <typename Fn> void forEachOneDigitChange(const std::string& number, Fn&& fn) {
  for (size_t i = 0; i < number.size(); ++i) {
    if (number[i] < '0' || number[i] > '9') {
      continue;
    }
    for (char d = '0'; d <= '9'; ++d) {
      if (d == number[i]) {
        continue;
      }
      std::string changed = number;
      changed[i] = d;
      fn(changed);
    }
  }
}

TEST_CASE("Luhn accepts the standard test card numbers", "[rules][validators]") {
  CHECK(isValidLuhn("4111111111111111"));
  CHECK(isValidLuhn("4111 1111 1111 1111"));
  CHECK(isValidLuhn("5500-0000-0000-0004"));
  CHECK(isValidLuhn("5500000000000004"));
  CHECK(isValidLuhn("378282246310005"));
  CHECK(isValidLuhn("3782 822463 10005"));
}

TEST_CASE("Luhn rejects any one changed digit", "[rules][validators]") {
  for (const std::string valid : {"4111111111111111", "5500000000000004", "378282246310005"}) {
    REQUIRE(isValidLuhn(valid));
    int rejected = 0;
    forEachOneDigitChange(valid, [&](const std::string& changed) {
      CHECK_FALSE(isValidLuhn(changed));
      ++rejected;
    });
    CHECK(rejected == static_cast<int>(valid.size()) * 9);
  }
  CHECK_FALSE(isValidLuhn("4111111111111112"));
  CHECK_FALSE(isValidLuhn("5500-0000-0000-0005"));
}

TEST_CASE("Luhn rejects numbers of the wrong length", "[rules][validators]") {
  // 11 digits that satisfy the checksum are still too short for a card number.
  REQUIRE(isValidLuhn("000000000000")); // 12 digits: the shortest accepted
  CHECK_FALSE(isValidLuhn("00000000000"));
  CHECK_FALSE(isValidLuhn("79927398713")); // the classic 11-digit Luhn example
  CHECK_FALSE(isValidLuhn("4111"));
  CHECK_FALSE(isValidLuhn(""));
  // 20 digits is too long even when the mod-10 sum works out.
  CHECK_FALSE(isValidLuhn("00000000000000000000"));
  CHECK(isValidLuhn("0000000000000000000")); // 19 digits
}

TEST_CASE("Luhn rejects letters and other characters", "[rules][validators]") {
  CHECK_FALSE(isValidLuhn("4111111111111111a"));
  CHECK_FALSE(isValidLuhn("41111111111x1111"));
  CHECK_FALSE(isValidLuhn("abcdefghijklmnop"));
  CHECK_FALSE(isValidLuhn("4111_1111_1111_1111"));
  CHECK_FALSE(isValidLuhn("4111+1111+1111+1111"));
}

TEST_CASE("JMBG helper agrees with the documented example", "[rules][validators]") {
  // 01.01.2010, region 70, serial 000: the check digit is 2, so ...5 is wrong.
  CHECK(withJmbgCheck("010101017000") == "0101010170002");
  CHECK_FALSE(isValidJmbg("0101010170005"));
  CHECK(isValidJmbg("0101010170002"));
}

TEST_CASE("JMBG accepts valid numbers and rejects a wrong check digit", "[rules][validators]") {
  // DDMMYYY RR BBB: 15.06.1985 Sarajevo (17), 31.12.1999, 28.02.2023, 01.01.1900.
  for (const std::string twelve :
       {"150698517012", "311299917500", "280202317321", "010190017001", "070704510000"}) {
    const std::string valid = withJmbgCheck(twelve);
    INFO(valid);
    CHECK(isValidJmbg(valid));
    for (char d = '0'; d <= '9'; ++d) {
      if (d != valid.back()) {
        CHECK_FALSE(isValidJmbg(withLastDigit(valid, d)));
      }
    }
  }
}

TEST_CASE("JMBG where m > 9 uses check digit 0", "[rules][validators]") {
  // Find 12-digit prefixes whose sum % 11 is 0 or 1 (m = 11 or 10): the check digit is 0.
  static constexpr std::array<int, 12> kWeights = {7, 6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
  int found = 0;
  for (int serial = 0; serial < 100; ++serial) {
    const std::string twelve = "0101985170" + std::string(1, static_cast<char>('0' + serial / 10)) +
                               static_cast<char>('0' + serial % 10);
    int sum = 0;
    for (size_t i = 0; i < 12; ++i) {
      sum += kWeights[i] * (twelve[i] - '0');
    }
    if (sum % 11 > 1) {
      continue;
    }
    ++found;
    const std::string valid = withJmbgCheck(twelve);
    INFO(valid);
    CHECK(valid.back() == '0');
    CHECK(isValidJmbg(valid));
    CHECK_FALSE(isValidJmbg(withLastDigit(valid, '1')));
  }
  CHECK(found >= 2);
}

TEST_CASE("JMBG rejects impossible dates", "[rules][validators]") {
  // The check digit is right in each case; only the date is wrong.
  CHECK_FALSE(isValidJmbg(withJmbgCheck("310298517012"))); // 31 Feb 1985
  CHECK_FALSE(isValidJmbg(withJmbgCheck("300298517012"))); // 30 Feb 1985
  CHECK_FALSE(isValidJmbg(withJmbgCheck("011398517012"))); // month 13
  CHECK_FALSE(isValidJmbg(withJmbgCheck("010098517012"))); // month 00
  CHECK_FALSE(isValidJmbg(withJmbgCheck("000198517012"))); // day 00
  CHECK_FALSE(isValidJmbg(withJmbgCheck("320198517012"))); // 32 Jan
  CHECK_FALSE(isValidJmbg(withJmbgCheck("310498517012"))); // 31 Apr
  CHECK(isValidJmbg(withJmbgCheck("300498517012")));       // 30 Apr
  CHECK(isValidJmbg(withJmbgCheck("310198517012")));       // 31 Jan
}

TEST_CASE("JMBG knows leap years", "[rules][validators]") {
  CHECK(isValidJmbg(withJmbgCheck("290200017012")));       // 29 Feb 2000 (YYY = 000)
  CHECK_FALSE(isValidJmbg(withJmbgCheck("290200117012"))); // 29 Feb 2001
  CHECK(isValidJmbg(withJmbgCheck("290298817012")));       // 29 Feb 1988
  CHECK_FALSE(isValidJmbg(withJmbgCheck("290290017012"))); // 29 Feb 1900: not a leap year
  CHECK(isValidJmbg(withJmbgCheck("280200117012")));       // 28 Feb 2001
}

TEST_CASE("JMBG rejects the wrong length and non-digits", "[rules][validators]") {
  const std::string valid = withJmbgCheck("150698517012");
  REQUIRE(isValidJmbg(valid));
  CHECK_FALSE(isValidJmbg(valid.substr(0, 12)));
  CHECK_FALSE(isValidJmbg(valid + "0"));
  CHECK_FALSE(isValidJmbg(""));
  std::string letter = valid;
  letter[7] = 'a';
  CHECK_FALSE(isValidJmbg(letter));
}

TEST_CASE("IBAN accepts valid numbers, with spaces and in lower case", "[rules][validators]") {
  CHECK(isValidIban("BA391290079401028494"));
  CHECK(isValidIban("GB82WEST12345698765432"));
  CHECK(isValidIban("DE89370400440532013000"));
  CHECK(isValidIban("BA39 1290 0794 0102 8494"));
  CHECK(isValidIban("GB82 WEST 1234 5698 7654 32"));
  CHECK(isValidIban("DE89 3704 0044 0532 0130 00"));
  CHECK(isValidIban("gb82west12345698765432"));
  CHECK(isValidIban("ba39 1290 0794 0102 8494"));
}

TEST_CASE("IBAN rejects any one changed digit", "[rules][validators]") {
  for (const std::string valid :
       {"BA391290079401028494", "GB82WEST12345698765432", "DE89370400440532013000"}) {
    REQUIRE(isValidIban(valid));
    forEachOneDigitChange(valid, [&](const std::string& changed) {
      INFO(changed);
      CHECK_FALSE(isValidIban(changed));
    });
  }
  CHECK_FALSE(isValidIban("GB82WEST12345698765433"));
  CHECK_FALSE(isValidIban("BA391290079401028495"));
}

TEST_CASE("IBAN rejects malformed text", "[rules][validators]") {
  CHECK_FALSE(isValidIban(""));
  CHECK_FALSE(isValidIban("BA39"));
  CHECK_FALSE(isValidIban("GB82-WEST-1234-5698-7654-32")); // only spaces may separate
  CHECK_FALSE(isValidIban("3982WEST12345698765432"));      // country code must be letters
  CHECK_FALSE(isValidIban("GBX2WEST12345698765432"));      // check digits must be digits
  CHECK_FALSE(isValidIban("GB82WEST1234569876543Ä"));
}

TEST_CASE("runValidator and names dispatch to the right check", "[rules][validators]") {
  CHECK(runValidator(Validator::None, "anything"));
  CHECK(runValidator(Validator::Luhn, "4111111111111111"));
  CHECK_FALSE(runValidator(Validator::Luhn, "4111111111111112"));
  CHECK(runValidator(Validator::Jmbg, "0101010170002"));
  CHECK_FALSE(runValidator(Validator::Jmbg, "0101010170005"));
  CHECK(runValidator(Validator::Iban, "BA391290079401028494"));
  CHECK_FALSE(runValidator(Validator::Iban, "4111111111111111"));

  for (Validator v : {Validator::Luhn, Validator::Jmbg, Validator::Iban}) {
    const auto back = validatorByName(validatorName(v));
    REQUIRE(back.has_value());
    CHECK(*back == v);
  }
  CHECK_FALSE(validatorByName("none").has_value());
  CHECK_FALSE(validatorByName("LUHN").has_value());
  CHECK_FALSE(validatorByName("mod97").has_value());
}

} // namespace
} // namespace scrub::rules
