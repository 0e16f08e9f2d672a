#include "proxy/synthetic_corpus.h"

#include <algorithm>
#include <array>
#include <ostream>
#include <set>
#include <string_view>

namespace scrub::corpus {
namespace {

// splitmix64 rather than std:: distributions: the distributions are implementation-defined and
// would make the corpus differ between libstdc++ and libc++.
class Rng {
public:
  explicit Rng(uint64_t& state) : state_(state) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n) without modulo bias: reject the low 2^64 mod n values.
  uint64_t below(uint64_t n) {
    const uint64_t threshold = (0 - n) % n;
    for (;;) {
      const uint64_t r = next();
      if (r >= threshold) {
        return r % n;
      }
    }
  }

  uint64_t range(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }
  bool percent(uint64_t p) { return below(100) < p; }

  template <typename T, size_t N> const T& pick(const std::array<T, N>& items) {
    return items[below(N)];
  }

private:
  uint64_t& state_;
};

// Names are at least four letters so that none is a substring of keys or fixed messages.
constexpr std::array<std::string_view, 26> kFirstNames = {
    "Dženana", "Emir",    "Amra",  "Đorđe",  "Šejla",  "Ćamil",   "Mirza",    "Lejla",   "Nermin",
    "Željka",  "Jasmina", "Adnan", "Selma",  "Haris",  "Dragana", "Milica",   "Nikola",  "Ivana",
    "Tarik",   "Belma",   "Kenan", "Merima", "Dževad", "Goran",   "Snježana", "Aldijana"};
constexpr std::array<std::string_view, 20> kLastNames = {
    "Smajlović",  "Hodžić",  "Begić", "Kovačević", "Đurić",          "Šarić", "Ćosić",
    "Mehmedović", "Jukić",   "Tadić", "Mujkić",    "Petrović",       "Babić", "Delić",
    "Husić",      "Karačić", "Zukić", "Softić",    "Hadžiosmanović", "Čolić"};
constexpr std::array<std::string_view, 10> kStreets = {"Ulica Zmaja od Bosne",
                                                       "Ferhadija",
                                                       "Titova",
                                                       "Alipašina",
                                                       "Kralja Tvrtka",
                                                       "Branilaca grada",
                                                       "Obala Kulina bana",
                                                       "Maršala Tita",
                                                       "Bulevar Meše Selimovića",
                                                       "Fra Anđela Zvizdovića"};
constexpr std::array<std::string_view, 10> kCities = {"Sarajevo", "Tuzla",      "Zenica", "Mostar",
                                                      "Bihać",    "Banja Luka", "Brčko",  "Travnik",
                                                      "Goražde",  "Bijeljina"};
constexpr std::array<std::string_view, 5> kRuntimeNames = {"R/T", "JOB", "ADA", "CLI", "CMP"};
constexpr std::array<uint64_t, 5> kXformIds = {7205, 7311, 8120, 10452, 615};
// A fixed list rather than random text: random letters could spell a name by accident.
constexpr std::array<std::string_view, 4> kFormVersions = {
    "vGk3s9QZ2nVJmFfL7tWcXp", "vR8bLq2WzXhT5mKpNc4dYs", "v2024_11_rev3", "vHt7QpW3xKz9LmB2rVc5Nd"};

// 2025-03-04T10:11:12Z: the corpus looks like one recent day of runs.
constexpr uint64_t kEpochStartNs = 1741083072000000000ULL;
constexpr uint64_t kNsPerSec = 1000000000ULL;

std::string zeroPad(uint64_t v, size_t width) {
  std::string s = std::to_string(v);
  if (s.size() < width) {
    s.insert(0, width - s.size(), '0');
  }
  return s;
}

// Howard Hinnant's civil_from_days: integer-only, so dates are identical on every platform.
struct Civil {
  int64_t year;
  unsigned month;
  unsigned day;
};
Civil civilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

// "2025-03-04T10:11:12", plus ".123Z" when withMillis.
std::string isoTime(uint64_t ns, bool withMillis) {
  const uint64_t secs = ns / kNsPerSec;
  const Civil c = civilFromDays(static_cast<int64_t>(secs / 86400));
  const uint64_t sod = secs % 86400;
  std::string s = std::to_string(c.year) + "-" + zeroPad(c.month, 2) + "-" + zeroPad(c.day, 2) +
                  "T" + zeroPad(sod / 3600, 2) + ":" + zeroPad(sod / 60 % 60, 2) + ":" +
                  zeroPad(sod % 60, 2);
  if (withMillis) {
    s += "." + zeroPad(ns % kNsPerSec / 1000000, 3) + "Z";
  }
  return s;
}

std::string uuidV4(Rng& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t hi = rng.next();
  uint64_t lo = rng.next();
  hi = (hi & ~0xf000ULL) | 0x4000ULL;                        // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL; // RFC 4122 variant
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 32; ++i) {
    const uint64_t word = i < 16 ? hi : lo;
    const int shift = 60 - 4 * (i % 16);
    s += kHex[(word >> shift) & 0xf];
    if (i == 7 || i == 11 || i == 15 || i == 19) {
      s += '-';
    }
  }
  return s;
}

void appendEscaped(std::string& out, std::string_view v) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char ch : v) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += ch; // UTF-8 passes through unchanged; JSON allows it raw.
    }
  }
  out += '"';
}

// Minimal streaming JSON writer: tracks commas so the shape builders read like the JSON they emit,
// and records retry ids as they are written so `ids` is in text order by construction.
class JsonOut {
public:
  explicit JsonOut(std::vector<std::pair<std::string, std::string>>* ids) : ids_(ids) {}

  JsonOut& beginObject() { return open('{'); }
  JsonOut& endObject() { return close('}'); }
  JsonOut& beginArray() { return open('['); }
  JsonOut& endArray() { return close(']'); }

  JsonOut& key(std::string_view k) {
    separate();
    appendEscaped(out_, k);
    out_ += ':';
    afterKey_ = true;
    return *this;
  }
  JsonOut& str(std::string_view v) {
    beforeValue();
    appendEscaped(out_, v);
    return *this;
  }
  // `text` must already be a valid JSON number.
  JsonOut& number(std::string_view text) {
    beforeValue();
    out_ += text;
    return *this;
  }
  JsonOut& number(uint64_t v) { return number(std::to_string(v)); }
  JsonOut& field(std::string_view k, std::string_view v) { return key(k).str(v); }
  JsonOut& id(std::string_view k, uint64_t v) {
    const std::string text = std::to_string(v);
    key(k).number(text);
    if (ids_ != nullptr) {
      ids_->emplace_back(std::string(k), text);
    }
    return *this;
  }

  const std::string& text() const { return out_; }

private:
  JsonOut& open(char c) {
    beforeValue();
    out_ += c;
    first_.push_back(true);
    return *this;
  }
  JsonOut& close(char c) {
    out_ += c;
    first_.pop_back();
    return *this;
  }
  void beforeValue() {
    if (afterKey_) {
      afterKey_ = false;
      return;
    }
    separate();
  }
  void separate() {
    if (!first_.empty()) {
      if (!first_.back()) {
        out_ += ',';
      }
      first_.back() = false;
    }
  }

  std::string out_;
  std::vector<bool> first_;
  bool afterKey_ = false;
  std::vector<std::pair<std::string, std::string>>* ids_;
};

// Determinism rule for everything below: at most one RNG draw (or plant) per full expression,
// except in braced initialisers and chained calls, whose order C++17 fixes. Operands of `+` are
// unsequenced, so two draws in one sum would differ between compilers.

// State of one line being built: the RNG, its time, and the canaries planted so far.
struct LineCtx {
  Rng& rng;
  uint64_t nowNs;
  CorpusLine& line;

  // Returns a copy: a reference into `canaries` would dangle at the next plant().
  std::string plant(const std::string& value) {
    auto& c = line.canaries;
    if (std::find(c.begin(), c.end(), value) == c.end()) {
      c.push_back(value);
    }
    return value;
  }
};

struct Person {
  std::string first;
  std::string last;
  std::string full() const { return first + " " + last; }
};

Person randomPerson(Rng& rng) {
  return {std::string(rng.pick(kFirstNames)), std::string(rng.pick(kLastNames))};
}

// Plants the full name and both parts: a scrubber that removes "Emir Hodžić" but leaves "Emir"
// in a split field still leaks.
std::string plantName(LineCtx& ctx, const Person& p) {
  ctx.plant(p.first);
  ctx.plant(p.last);
  return ctx.plant(p.full());
}

// ASCII folding used by email local parts: č→c, đ→dj, ž→z, š→s, lower-case.
std::string asciiFold(std::string_view s) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 10> kMap = {{
      {"č", "c"},
      {"Č", "c"},
      {"ć", "c"},
      {"Ć", "c"},
      {"ž", "z"},
      {"Ž", "z"},
      {"š", "s"},
      {"Š", "s"},
      {"đ", "dj"},
      {"Đ", "dj"},
  }};
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    bool mapped = false;
    for (const auto& [from, to] : kMap) {
      if (s.substr(i, from.size()) == from) {
        out += to;
        i += from.size();
        mapped = true;
        break;
      }
    }
    if (!mapped) {
      const char c = s[i++];
      out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
  }
  return out;
}

std::string plantEmail(LineCtx& ctx, const Person& p) {
  return ctx.plant(asciiFold(p.first) + "." + asciiFold(p.last) +
                   std::to_string(ctx.rng.range(1, 99)) + "@example.net");
}

// Mobile 060-067 or Sarajevo landline 033, in one of the five spellings seen in real data.
std::string plantPhone(LineCtx& ctx) {
  Rng& rng = ctx.rng;
  const std::string area = rng.percent(20) ? "33" : "6" + std::to_string(rng.range(0, 7));
  const uint64_t lead = rng.range(2, 9);
  const std::string a = std::to_string(lead) + zeroPad(rng.below(100), 2);
  const std::string b = zeroPad(rng.below(1000), 3);
  std::string phone;
  switch (rng.below(5)) {
  case 0:
    phone = "0" + area + " " + a + " " + b;
    break;
  case 1:
    phone = "0" + area + "/" + a + "-" + b;
    break;
  case 2:
    phone = "+387 " + area + " " + a + " " + b;
    break;
  case 3:
    phone = "+387" + area + a + b;
    break;
  default:
    phone = "00387 " + area + " " + a + " " + b;
    break;
  }
  return ctx.plant(phone);
}

struct Birth {
  unsigned year;
  unsigned month;
  unsigned day;
  std::string iso() const {
    return std::to_string(year) + "-" + zeroPad(month, 2) + "-" + zeroPad(day, 2);
  }
};

Birth randomBirth(Rng& rng) {
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  Birth b{};
  b.year = static_cast<unsigned>(rng.range(2008, 2020));
  b.month = static_cast<unsigned>(rng.range(1, 12));
  const bool leap = b.year % 4 == 0 && (b.year % 100 != 0 || b.year % 400 == 0);
  const unsigned days = kDays[b.month - 1] + (b.month == 2 && leap ? 1 : 0);
  b.day = static_cast<unsigned>(rng.range(1, days));
  return b;
}

// DDMMYYYRRBBBK with a valid mod-11 check digit; numbers whose remainder gives m == 10 are
// skipped because validators disagree on them and a canary must be unambiguous.
std::string makeJmbg(Rng& rng, const Birth& b) {
  for (;;) {
    const uint64_t region = rng.range(10, 19);
    const uint64_t serial = rng.below(1000);
    const std::string body = zeroPad(b.day, 2) + zeroPad(b.month, 2) + zeroPad(b.year % 1000, 3) +
                             std::to_string(region) + zeroPad(serial, 3);
    unsigned sum = 0;
    for (size_t i = 0; i < 6; ++i) {
      sum += (7 - static_cast<unsigned>(i)) *
             static_cast<unsigned>((body[i] - '0') + (body[i + 6] - '0'));
    }
    const unsigned m = 11 - sum % 11;
    if (m == 10) {
      continue;
    }
    return body + std::to_string(m == 11 ? 0 : m);
  }
}

std::string plantAddress(LineCtx& ctx) {
  Rng& rng = ctx.rng;
  const std::string_view street = rng.pick(kStreets);
  const uint64_t number = rng.range(1, 150);
  const std::string_view city = rng.pick(kCities);
  return ctx.plant(std::string(street) + " " + std::to_string(number) + ", " + std::string(city));
}

// Fixed-point text so no float formatting (which varies) is involved.
std::string coordinate(Rng& rng, uint64_t loTenths, uint64_t hiTenths) {
  const size_t decimals = rng.range(4, 6);
  uint64_t scale = 1;
  for (size_t i = 0; i < decimals; ++i) {
    scale *= 10;
  }
  const uint64_t v = rng.range(loTenths * scale / 10, hiTenths * scale / 10);
  return std::to_string(v / scale) + "." + zeroPad(v % scale, decimals);
}

struct Gps {
  std::string lat;
  std::string lon;
  std::string pair() const { return lat + " " + lon; }
};

Gps randomGps(Rng& rng) {
  return {coordinate(rng, 426, 452), coordinate(rng, 157, 196)};
}

std::string nanoTime(uint64_t ns) {
  return std::to_string(ns);
}

// A sentence a caseworker would type: a name and a phone inside free text.
std::string freeText(LineCtx& ctx) {
  const std::string name = plantName(ctx, randomPerson(ctx.rng));
  const std::string phone = plantPhone(ctx);
  switch (ctx.rng.below(3)) {
  case 0:
    return "Majka " + name + " se javila sa broja " + phone + ", traži posjetu.";
  case 1:
    return "Called caregiver " + name + " on " + phone + ", follow-up next week.";
  default:
    return "Dijete boravi kod " + name + ", kontakt " + phone + ".";
  }
}

// A KoboToolbox submission as the API returns it; used top-level and inside console.log lines.
void writeSubmission(JsonOut& j, LineCtx& ctx) {
  Rng& rng = ctx.rng;
  const Person child = randomPerson(rng);
  Person carer = randomPerson(rng);
  if (rng.percent(60)) {
    carer.last = child.last;
  }
  const Birth birth = randomBirth(rng);
  const std::string uuid = uuidV4(rng);
  const Gps gps = randomGps(rng);
  const uint64_t submittedNs = ctx.nowNs - rng.range(60, 7200) * kNsPerSec;

  j.beginObject();
  j.id("_id", rng.range(1, 1000000000));
  j.field("formhub/uuid", uuidV4(rng));
  j.field("__version__", rng.pick(kFormVersions));
  j.field("meta/instanceID", "uuid:" + uuid);
  j.field("child/full_name", plantName(ctx, child));
  j.field("child/first_name", child.first);
  j.field("child/last_name", child.last);
  j.field("child/dob", ctx.plant(birth.iso()));
  if (rng.percent(80)) {
    j.field("child/jmbg", ctx.plant(makeJmbg(rng, birth)));
  }
  j.field("caregiver/full_name", plantName(ctx, carer));
  j.field("caregiver/phone", plantPhone(ctx));
  if (rng.percent(70)) {
    j.field("caregiver/email", plantEmail(ctx, carer));
  }
  j.field("household/address", plantAddress(ctx));
  j.field("location/gps", ctx.plant(gps.pair()) + " 0 0");
  if (rng.percent(60)) {
    j.field("notes/free_text", freeText(ctx));
  }
  j.id("_xform_id", rng.pick(kXformIds));
  j.field("_uuid", uuid);
  j.key("_attachments").beginArray();
  const uint64_t attachments = rng.below(3);
  for (uint64_t i = 0; i < attachments; ++i) {
    j.beginObject()
        .key("id")
        .number(rng.range(100000, 9999999))
        .field("mimetype", "image/jpeg")
        .field("filename", "enumerator/attachments/" + uuid + "/" + child.first + "_" + child.last +
                               "-" + std::to_string(i + 1) + ".jpg")
        .endObject();
  }
  j.endArray();
  j.field("_status", "submitted_via_web");
  j.key("_geolocation")
      .beginArray()
      .number(ctx.plant(gps.lat))
      .number(ctx.plant(gps.lon))
      .endArray();
  j.field("_submission_time", isoTime(submittedNs, false));
  j.key("_tags").beginArray().endArray();
  j.key("_notes").beginArray().endArray();
  j.field("_submitted_by", "enumerator_" + zeroPad(rng.range(1, 40), 2));
  j.endObject();
}

void beginRuntimeLine(JsonOut& j, std::string_view level, std::string_view name) {
  j.beginObject().field("level", level).field("name", name).key("message").beginArray();
}

void endRuntimeLine(JsonOut& j, LineCtx& ctx) {
  j.endArray().field("time", nanoTime(ctx.nowNs)).endObject();
}

// Shape 1: what the OpenFn CLI and runtime print on their own; carries nothing personal.
void runtimeLine(JsonOut& j, LineCtx& ctx) {
  Rng& rng = ctx.rng;
  const std::string op = std::to_string(rng.range(1, 9));
  std::string_view level = "info";
  std::string_view name = "R/T";
  std::string message;
  switch (rng.below(10)) {
  case 0:
    message = "Starting operation " + op;
    break;
  case 1:
    message = "Operation " + op + " complete in " + std::to_string(rng.below(4000)) + "ms";
    break;
  case 2:
    level = "success";
    name = "CLI";
    message = "Finished in " + std::to_string(rng.range(0, 59));
    message += "." + std::to_string(rng.below(10)) + "s";
    break;
  case 3:
    level = "debug";
    name = "ADA";
    message = "Loaded adaptor @openfn/language-kobotoolbox@4.1." + std::to_string(rng.below(9));
    break;
  case 4:
    name = "CMP";
    message = "Compiled job from job.js";
    break;
  case 5:
    level = "warn";
    message = "Operation " + op + " took longer than 5000ms";
    break;
  case 6:
    level = "error";
    message = "Error in runtime execution!";
    break;
  case 7:
    level = "always";
    name = "CLI";
    message = "Workflow completed successfully";
    break;
  case 8:
    level = "debug";
    name = "JOB";
    message = "Fetched " + std::to_string(rng.range(0, 250)) + " submissions";
    break;
  default:
    level = "info";
    name = rng.pick(kRuntimeNames);
    message = "Expression " + op + " complete";
    break;
  }
  beginRuntimeLine(j, level, name);
  j.str(message);
  endRuntimeLine(j, ctx);
}

void writeIds(JsonOut& j, Rng& rng) {
  j.id("_id", rng.range(1, 1000000000)).id("_xform_id", rng.pick(kXformIds));
}

// Shape 2: job code logging the retry ids, sometimes with personal fields next to them.
void jobIdsLine(JsonOut& j, LineCtx& ctx) {
  Rng& rng = ctx.rng;
  beginRuntimeLine(j, rng.percent(80) ? "info" : "debug", "JOB");
  const uint64_t variant = rng.below(10);
  if (variant < 4) {
    j.beginObject();
    writeIds(j, rng);
    j.endObject();
  } else if (variant < 6) {
    j.beginObject();
    writeIds(j, rng);
    j.field("child/full_name", plantName(ctx, randomPerson(rng)));
    if (rng.percent(50)) {
      j.field("caregiver/phone", plantPhone(ctx));
    }
    j.endObject();
  } else if (variant < 8) {
    j.str("Processing").beginObject().key("submission").beginObject();
    writeIds(j, rng);
    j.field("child/phone", plantPhone(ctx));
    j.endObject().endObject();
  } else {
    const uint64_t n = rng.range(2, 4);
    j.str("Upserted " + std::to_string(n) + " cases").beginArray();
    for (uint64_t i = 0; i < n; ++i) {
      j.beginObject();
      writeIds(j, rng);
      if (rng.percent(50)) {
        j.field("child/full_name", plantName(ctx, randomPerson(rng)));
      }
      j.endObject();
    }
    j.endArray();
  }
  endRuntimeLine(j, ctx);
}

// A one-line message with personal data interpolated, as careless job code writes it.
std::string carelessMessage(LineCtx& ctx) {
  Rng& rng = ctx.rng;
  const Person p = randomPerson(rng);
  switch (rng.below(6)) {
  case 0: {
    const std::string name = plantName(ctx, p);
    return "Creating case for " + name + ", " + plantPhone(ctx);
  }
  case 1: {
    const Birth b = randomBirth(rng);
    const std::string name = plantName(ctx, p);
    const std::string dob = ctx.plant(b.iso());
    return "Child " + name + " born " + dob + ", JMBG " + ctx.plant(makeJmbg(rng, b));
  }
  case 2: {
    const std::string phone = plantPhone(ctx);
    return "Sending SMS to " + phone + " for caregiver " + plantName(ctx, p);
  }
  case 3: {
    const std::string jmbg = ctx.plant(makeJmbg(rng, randomBirth(rng)));
    const std::string name = plantName(ctx, p);
    return "Upserting case " + jmbg + " (" + name + ") at " + plantAddress(ctx);
  }
  case 4:
    return "Duplicate check failed for " + plantEmail(ctx, p);
  default: {
    const std::string pair = ctx.plant(randomGps(rng).pair());
    return "GPS " + pair + " for " + plantName(ctx, p);
  }
  }
}

// Shape 3: careless job code — interpolated strings, console.log(submission), and
// JSON.stringify'd objects that hide personal data inside a string value.
void carelessLine(JsonOut& j, LineCtx& ctx) {
  Rng& rng = ctx.rng;
  beginRuntimeLine(j, rng.percent(85) ? "info" : "warn", "JOB");
  const uint64_t variant = rng.below(3);
  if (variant == 0) {
    j.str(carelessMessage(ctx));
  } else if (variant == 1) {
    if (rng.percent(50)) {
      j.str("submission:");
    }
    writeSubmission(j, ctx);
  } else {
    // Ids inside the string are text, not JSON integers, so they are not reported as ids.
    JsonOut inner(nullptr);
    inner.beginObject();
    writeIds(inner, rng);
    inner.field("child/full_name", plantName(ctx, randomPerson(rng)));
    if (rng.percent(50)) {
      inner.field("child/jmbg", ctx.plant(makeJmbg(rng, randomBirth(rng))));
    }
    if (rng.percent(50)) {
      inner.field("caregiver/phone", plantPhone(ctx));
    }
    inner.endObject();
    j.str(rng.percent(30) ? "Payload: " + inner.text() : inner.text());
  }
  endRuntimeLine(j, ctx);
}

// Shape 5: the Lightning worker's log envelope.
void lightningLine(JsonOut& j, LineCtx& ctx) {
  Rng& rng = ctx.rng;
  const uint64_t variant = rng.below(3);
  j.beginObject().key("message");
  std::string_view source = "JOB";
  if (variant == 0) {
    j.str(carelessMessage(ctx));
  } else if (variant == 1) {
    j.beginArray().beginObject();
    writeIds(j, rng);
    j.endObject().endArray();
  } else {
    source = "R/T";
    j.str("Starting operation " + std::to_string(rng.range(1, 9)));
  }
  static constexpr std::array<std::string_view, 4> kLevels = {"info", "info", "debug", "warn"};
  j.field("source", source)
      .field("level", rng.pick(kLevels))
      .field("timestamp", isoTime(ctx.nowNs, true))
      .field("step_id", uuidV4(rng))
      .endObject();
}

} // namespace

CorpusGenerator::CorpusGenerator(uint64_t seed) : rngState_(seed), clockNs_(0) {
  Rng rng(rngState_);
  clockNs_ = kEpochStartNs + rng.below(86400) * kNsPerSec;
  clockNs_ += rng.below(kNsPerSec);
}

CorpusLine CorpusGenerator::next() {
  Rng rng(rngState_);
  clockNs_ += rng.range(1000000, 2000000000); // 1 ms .. 2 s between lines
  CorpusLine line;
  LineCtx ctx{rng, clockNs_, line};
  JsonOut j(&line.ids);
  // Fixed mix: mostly runtime noise, as in real runs; the rest split among the leak shapes.
  const uint64_t roll = rng.below(100);
  if (roll < 30) {
    runtimeLine(j, ctx);
  } else if (roll < 55) {
    jobIdsLine(j, ctx);
  } else if (roll < 70) {
    carelessLine(j, ctx);
  } else if (roll < 85) {
    writeSubmission(j, ctx);
  } else {
    lightningLine(j, ctx);
  }
  line.json = j.text();
  return line;
}

void generateCorpus(const CorpusOptions& opts, std::ostream& out, std::ostream* canaries) {
  CorpusGenerator gen(opts.seed);
  std::set<std::string> all;
  for (uint64_t i = 0; i < opts.lines; ++i) {
    CorpusLine line = gen.next();
    out << line.json << '\n';
    if (canaries != nullptr) {
      for (auto& c : line.canaries) {
        all.insert(std::move(c));
      }
    }
  }
  if (canaries != nullptr) {
    for (const auto& c : all) {
      *canaries << c << '\n';
    }
  }
}

} // namespace scrub::corpus
