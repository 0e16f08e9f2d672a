#include "rules/validators.h"

#include <array>

namespace scrub::rules {
namespace {

bool isSeparator(char c) {
  return c == ' ' || c == '-' || c == '.' || c == '/';
}

// Digits of `text` with separators dropped, into `digits`: how many, or 0 if anything else is in
// it or there are more than fit. On the stack: a card number must not pass through the heap (the
// filter allocates nothing per line, and freed memory would keep the number).
template <size_t N> size_t digitsOnly(std::string_view text, std::array<char, N>& digits) {
  size_t count = 0;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      if (count == N) {
        return 0;
      }
      digits[count++] = c;
    } else if (!isSeparator(c)) {
      return 0;
    }
  }
  return count;
}

bool isLeapYear(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int daysInMonth(int year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && isLeapYear(year) ? 29 : kDays[month - 1];
}

} // namespace

bool isValidLuhn(std::string_view text) {
  std::array<char, 19> digits;
  const size_t count = digitsOnly(text, digits);
  if (count < 12) {
    return false;
  }
  int sum = 0;
  bool doubled = false;
  for (size_t i = count; i-- > 0;) {
    int d = digits[i] - '0';
    if (doubled) {
      d *= 2;
      if (d > 9) {
        d -= 9;
      }
    }
    sum += d;
    doubled = !doubled;
  }
  return sum % 10 == 0;
}

bool isValidJmbg(std::string_view text) {
  std::array<char, 13> digits;
  if (digitsOnly(text, digits) != 13) {
    return false;
  }
  std::array<int, 13> d{};
  for (size_t i = 0; i < 13; ++i) {
    d[i] = digits[i] - '0';
  }
  const int day = d[0] * 10 + d[1];
  const int month = d[2] * 10 + d[3];
  const int year_part = d[4] * 100 + d[5] * 10 + d[6];
  // Three year digits: 9xx is 19xx, 0xx is 20xx (the scheme dates from 1976).
  const int year = year_part >= 800 ? 1000 + year_part : 2000 + year_part;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return false;
  }
  const int weighted = 7 * (d[0] + d[6]) + 6 * (d[1] + d[7]) + 5 * (d[2] + d[8]) +
                       4 * (d[3] + d[9]) + 3 * (d[4] + d[10]) + 2 * (d[5] + d[11]);
  int check = 11 - weighted % 11;
  if (check > 9) {
    check = 0;
  }
  return check == d[12];
}

bool isValidIban(std::string_view text) {
  std::array<char, 34> compact; // the longest IBAN; on the stack, as digitsOnly explains
  size_t count = 0;
  for (char c : text) {
    if (c == ' ') {
      continue;
    }
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) || count == compact.size()) {
      return false;
    }
    compact[count++] = c;
  }
  if (count < 15) {
    return false;
  }
  const bool shape = compact[0] >= 'A' && compact[0] <= 'Z' && compact[1] >= 'A' &&
                     compact[1] <= 'Z' && compact[2] >= '0' && compact[2] <= '9' &&
                     compact[3] >= '0' && compact[3] <= '9';
  if (!shape) {
    return false;
  }
  // Read from the fifth character round to the fourth (the first four moved to the end), letters
  // as 10..35, mod 97 piecewise.
  int remainder = 0;
  for (size_t k = 0; k < count; ++k) {
    const char c = compact[(k + 4) % count];
    if (c >= '0' && c <= '9') {
      remainder = (remainder * 10 + (c - '0')) % 97;
    } else {
      remainder = (remainder * 100 + (c - 'A' + 10)) % 97;
    }
  }
  return remainder == 1;
}

bool runValidator(Validator validator, std::string_view text) {
  switch (validator) {
  case Validator::None:
    return true;
  case Validator::Luhn:
    return isValidLuhn(text);
  case Validator::Jmbg:
    return isValidJmbg(text);
  case Validator::Iban:
    return isValidIban(text);
  }
  return false;
}

std::optional<Validator> validatorByName(std::string_view name) {
  if (name == "luhn") {
    return Validator::Luhn;
  }
  if (name == "jmbg") {
    return Validator::Jmbg;
  }
  if (name == "iban") {
    return Validator::Iban;
  }
  return std::nullopt;
}

std::string_view validatorName(Validator validator) {
  switch (validator) {
  case Validator::None:
    return "none";
  case Validator::Luhn:
    return "luhn";
  case Validator::Jmbg:
    return "jmbg";
  case Validator::Iban:
    return "iban";
  }
  return "none";
}

} // namespace scrub::rules
