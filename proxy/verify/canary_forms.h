#pragma once

// Every form in which a planted personal value (a canary) could reach a log sink after a
// re-encoder or a careless job touched it: raw, JSON-escaped, \u-escaped, re-cased,
// Unicode-normalised, digits without separators, URL-encoded, base64. `verify` searches filter
// output for all of them; a verifier that only looks for the raw bytes proves little.
//
// Pure functions of the canary text (valid UTF-8 expected; invalid bytes pass through the
// byte-wise forms and are skipped by the code-point-wise ones).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace scrub::verify {

struct CanaryForm {
  std::string name;  // "raw", "json", "u-escape", "nfd+u-escape", "url-plus", "base64", ...
  std::string bytes; // what to search for in output bytes
  // The match must not touch a letter or digit on either side. Used for the digits-only forms,
  // so that a date's "20150821" is not found inside a 19-digit timestamp or a hex uuid.
  bool digit_bounded = false;
};

// Shortest base64 run searched for. Shorter runs of the base64 alphabet occur by chance in ids
// and hashes; a canary whose stable base64 part is shorter is only searched as its whole padded
// encoding.
inline constexpr size_t kMinBase64Chars = 8;
// Digits-only forms are searched for canaries with at least this many digits that hold nothing
// but digits and separators (space - / ( ) +): phone numbers, dates, ids written in groups. A
// decimal point is not a separator: "16.225859" without it is just another 8-digit number.
inline constexpr size_t kMinDigits = 7;

// All distinct forms, in a fixed order that puts the plainest first (the first form found in a
// line is the one a leak is reported under). Forms with identical bytes are listed once, under
// the first name. Never empty for a non-empty canary.
std::vector<CanaryForm> canaryForms(std::string_view canary);

// Every form name canaryForms() can produce, plainest first: the order leaks are ranked by.
const std::vector<std::string>& allFormNames();

// --- the encoders, exposed for tests --------------------------------------------------------

// JSON string body (no quotes) with the minimal escapes; `escape_slash` also writes "\/" as
// PHP's json_encode does.
std::string jsonEscaped(std::string_view text, bool escape_slash = false);
// JSON string body with \uXXXX escapes: `all` escapes every code point, otherwise only non-ASCII
// (Python's ensure_ascii). Code points above U+FFFF become surrogate pairs.
std::string uEscaped(std::string_view text, bool all, bool upper_hex);
// Percent-encoding of the UTF-8 bytes; unreserved characters (RFC 3986) stay.
std::string urlEncoded(std::string_view text, bool plus_for_space, bool upper_hex);
std::string base64(std::string_view bytes, bool url_safe, bool pad = true);
// The part of base64(prefix + text) that depends only on `text`, for a prefix of `align`
// bytes (0, 1 or 2): whatever precedes a canary in a base64 stream, one of the three is in it.
std::string base64Stable(std::string_view text, int align, bool url_safe);
// NFC / NFD through utf8proc; the input unchanged if it is not valid UTF-8.
std::string normalizedNfc(std::string_view text);
std::string normalizedNfd(std::string_view text);
// Simple (one-to-one) case mapping per code point, through utf8proc.
std::string lowerCased(std::string_view text);
std::string upperCased(std::string_view text);
std::string digitsOnly(std::string_view text);
// True when `text` holds only digits and the separators above.
bool digitsWithSeparators(std::string_view text);

// Decodes the JSON escapes in `text` (\" \\ \/ \b \f \n \r \t \uXXXX with surrogate pairs),
// leaving everything else, including malformed escapes, as it is. Used to search output whose
// strings were escaped in a mix no single form predicts.
std::string decodeJsonEscapes(std::string_view text);

} // namespace scrub::verify
