#pragma once

// Built-in checksum validators a deny detector can name with `check:`. They cut false positives:
// a 13-digit order number is not a JMBG unless its date and check digit say so. Each takes the
// matched text; separators (space, '-', '.', '/') are ignored where the number format allows them.
// Pure and thread-safe.

#include <optional>
#include <string_view>

namespace scrub::rules {

enum class Validator { None, Luhn, Jmbg, Iban };

// Payment card numbers and other Luhn-checked ids: 12 to 19 digits, mod-10 checksum.
bool isValidLuhn(std::string_view text);

// JMBG (Jedinstveni matični broj građana), the 13-digit personal number of Bosnia and
// Herzegovina and the other former Yugoslav states: DDMMYYY RR BBB K with a real calendar date
// and the mod-11 check digit.
bool isValidJmbg(std::string_view text);

// IBAN: country code, check digits, and BBAN; ISO 13616 mod-97 == 1.
bool isValidIban(std::string_view text);

bool runValidator(Validator validator, std::string_view text);

std::optional<Validator> validatorByName(std::string_view name);
std::string_view validatorName(Validator validator);

} // namespace scrub::rules
