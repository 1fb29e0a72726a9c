// CPython behaviours the Python frameworks' cookies depend on
// (python_compat.h). Each function names the CPython code it follows; the
// test vectors (testdata/mint_python.py) check them against the real thing.
#include "import/python_compat.h"

#include <zlib.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace sessiond::legacy_detail {
namespace {

constexpr std::string_view kStdAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr uint8_t kNotB64 = 0xFF;
constexpr std::array<uint8_t, 256> kA2b = [] {
  std::array<uint8_t, 256> t{};
  t.fill(kNotB64);
  for (size_t i = 0; i < kStdAlphabet.size(); ++i) {
    t[static_cast<unsigned char>(kStdAlphabet[i])] = static_cast<uint8_t>(i);
  }
  return t;
}();

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
         c == '\r';
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}
std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

}  // namespace

// CPython 3.11 Modules/binascii.c binascii_a2b_base64_impl, strict_mode=0.
std::optional<std::string> PythonB64Decode(std::string_view data,
                                           bool urlsafe) {
  std::string out;
  out.reserve(data.size() / 4 * 3 + 3);
  int quad_pos = 0;
  int pads = 0;
  unsigned leftchar = 0;
  for (char raw : data) {
    unsigned char ch = static_cast<unsigned char>(raw);
    if (urlsafe) {  // base64.urlsafe_b64decode translates first
      if (ch == '-') ch = '+';
      else if (ch == '_') ch = '/';
    }
    if (ch == '=') {
      // A pad completes the quad once at least two data characters are in
      // it; then decoding stops and the rest is ignored.
      if (quad_pos >= 2 && quad_pos + ++pads >= 4) return out;
      continue;
    }
    uint8_t v = kA2b[ch];
    if (v == kNotB64) continue;  // not in the alphabet: skipped
    pads = 0;
    switch (quad_pos) {
      case 0:
        quad_pos = 1;
        leftchar = v;
        break;
      case 1:
        quad_pos = 2;
        out.push_back(static_cast<char>((leftchar << 2) | (v >> 4)));
        leftchar = v & 0x0F;
        break;
      case 2:
        quad_pos = 3;
        out.push_back(static_cast<char>(((leftchar << 4) | (v >> 2)) & 0xFF));
        leftchar = v & 0x03;
        break;
      default:
        quad_pos = 0;
        out.push_back(static_cast<char>(((leftchar << 6) | v) & 0xFF));
        leftchar = 0;
        break;
    }
  }
  if (quad_pos != 0) return std::nullopt;  // "Incorrect padding" et al.
  return out;
}

std::string PythonB64Encode(std::string_view bytes, bool urlsafe, bool strip) {
  std::string_view alphabet = urlsafe ? kUrlAlphabet : kStdAlphabet;
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto b = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(alphabet[(n >> 6) & 63]);
    out.push_back(alphabet[n & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t n = b(i) << 16;
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    if (!strip) out += "==";
  } else if (rest == 2) {
    uint32_t n = (b(i) << 16) | (b(i + 1) << 8);
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(alphabet[(n >> 6) & 63]);
    if (!strip) out += "=";
  }
  return out;
}

// The maximal-subpart rule of CPython's UTF-8 decoder (Objects/stringlib/
// codecs.h): an invalid start byte is one error; a valid start followed by
// fewer continuation bytes than it needs is one error for the bytes read.
std::string PythonUtf8Replace(std::string_view s) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < s.size()) {
    unsigned char c = at(i);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      out += kReplacement;
      ++i;
      continue;
    }
    size_t got = 0;
    while (got < need && i + 1 + got < s.size()) {
      unsigned char n = at(i + 1 + got);
      unsigned char l = got == 0 ? lo : 0x80, h = got == 0 ? hi : 0xBF;
      if (n < l || n > h) break;
      ++got;
    }
    if (got == need) {
      out.append(s.substr(i, need + 1));
    } else {
      out += kReplacement;
    }
    i += got + 1;
  }
  return out;
}

std::vector<std::string> PythonChars(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    len = std::min(len, s.size() - i);
    out.emplace_back(s.substr(i, len));
    i += len;
  }
  return out;
}

Result<std::string> PythonZlibDecompress(std::string_view data,
                                         size_t max_output) {
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) {
    return Status(Code::kInternal, "zlib: inflateInit failed");
  }
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[16384];
  int rc = Z_OK;
  while (true) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    size_t produced = sizeof(buf) - zs.avail_out;
    if (out.size() + produced > max_output) {
      inflateEnd(&zs);
      return Status(Code::kTooLarge, "compressed payload inflates past " +
                                         std::to_string(max_output) +
                                         " bytes");
    }
    out.append(buf, produced);
    if (rc == Z_STREAM_END) break;
    if (rc == Z_OK) continue;
    // Z_BUF_ERROR: input ran out before the stream ended ("incomplete or
    // truncated stream"); Z_DATA_ERROR, Z_NEED_DICT: refused by zlib.
    inflateEnd(&zs);
    return Status(Code::kBadEncoding,
                  rc == Z_BUF_ERROR ? "zlib: incomplete or truncated stream"
                                    : "zlib: invalid compressed data");
  }
  inflateEnd(&zs);
  return out;
}

std::string PythonZlibCompress(std::string_view data) {
  uLongf len = compressBound(static_cast<uLong>(data.size()));
  std::string out(len, '\0');
  compress2(reinterpret_cast<Bytef*>(out.data()), &len,
            reinterpret_cast<const Bytef*>(data.data()),
            static_cast<uLong>(data.size()), Z_DEFAULT_COMPRESSION);
  out.resize(len);
  return out;
}

// Python/pystrtod.c format_float_short with mode 0 ('r'), Py_DTSF_ADD_DOT_0.
std::string PythonFloatRepr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[64];
  // Shortest digits that read back to x, as David Gay's dtoa mode 0 gives.
  auto r = std::to_chars(buf, buf + sizeof(buf), x,
                         std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(r.ptr - buf));
  bool negative = !sci.empty() && sci[0] == '-';
  if (negative) sci.remove_prefix(1);
  size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = std::atoi(std::string(sci.substr(e + 1)).c_str());
  if (digits == "0") exponent = 0;
  int decpt = exponent + 1;
  std::string out = negative ? "-" : "";
  const int n = static_cast<int>(digits.size());
  if (decpt <= -4 || decpt > 16) {
    out.push_back(digits[0]);
    if (n > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    int ex = decpt - 1;
    out.push_back('e');
    out.push_back(ex < 0 ? '-' : '+');
    int a = ex < 0 ? -ex : ex;
    if (a < 10) out.push_back('0');
    out += std::to_string(a);
  } else if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-decpt), '0');
    out += digits;
  } else if (decpt >= n) {
    out += digits;
    out.append(static_cast<size_t>(decpt - n), '0');
    out += ".0";
  } else {
    out.append(digits, 0, static_cast<size_t>(decpt));
    out.push_back('.');
    out.append(digits, static_cast<size_t>(decpt), std::string::npos);
  }
  return out;
}

namespace {

// Objects/floatobject.c float_from_string_inner after
// _Py_string_to_number_with_underscores (ASCII input).
std::optional<std::string> StripUnderscores(std::string_view s) {
  std::string out;
  char prev = '\0';
  for (char c : s) {
    if (c == '_') {
      if (!IsAsciiDigit(prev)) return std::nullopt;
    } else {
      if (prev == '_' && !IsAsciiDigit(c)) return std::nullopt;
      out.push_back(c);
    }
    prev = c;
  }
  if (prev == '_') return std::nullopt;
  return out;
}

std::string_view StripAsciiSpace(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<double> PythonFloatFromString(std::string_view raw) {
  for (char c : raw) {
    if (static_cast<unsigned char>(c) >= 0x80) return std::nullopt;
  }
  std::optional<std::string> cleaned = StripUnderscores(raw);
  if (!cleaned) return std::nullopt;
  std::string_view s = StripAsciiSpace(*cleaned);
  // Python/pystrtod.c _Py_parse_inf_or_nan, then _Py_dg_strtod's grammar.
  std::string_view body = s;
  bool negative = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  std::string lower = AsciiLower(body);
  if (lower == "inf" || lower == "infinity") {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  if (lower == "nan") {
    return negative ? -std::numeric_limits<double>::quiet_NaN()
                    : std::numeric_limits<double>::quiet_NaN();
  }
  size_t i = 0, mantissa_digits = 0;
  while (i < body.size() && IsAsciiDigit(body[i])) ++i, ++mantissa_digits;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && IsAsciiDigit(body[i])) ++i, ++mantissa_digits;
  }
  if (mantissa_digits == 0) return std::nullopt;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) ++i;
    size_t start = i;
    while (i < body.size() && IsAsciiDigit(body[i])) ++i;
    if (i == start) return std::nullopt;
  }
  if (i != body.size()) return std::nullopt;
  return std::strtod(std::string(s).c_str(), nullptr);
}

namespace {

// Objects/longobject.c PyLong_FromString for base 16 on ASCII text; the
// value must fit in 128 bits (more can only mean "out of range" here).
bool ParseHexInt(std::string_view s, UInt128& value,
                 bool& negative) {
  s = StripAsciiSpace(s);
  negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    if (!s.empty() && s[0] == '_') s.remove_prefix(1);  // one allowed here
  }
  if (s.empty() || s[0] == '_') return false;
  value = 0;
  char prev = '\0';
  size_t digits = 0;
  for (char c : s) {
    if (c == '_') {
      if (prev == '_') return false;
      prev = c;
      continue;
    }
    unsigned d;
    if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
    else return false;
    if (++digits > 32 && value >> 124) return false;
    value = (value << 4) | d;
    prev = c;
  }
  return prev != '_' && digits > 0;
}

void ReplaceAll(std::string& s, std::string_view from) {
  size_t p;
  while ((p = s.find(from)) != std::string::npos) s.erase(p, from.size());
}

}  // namespace

std::optional<std::string> PythonUuid(std::string_view raw) {
  for (char c : raw) {
    if (static_cast<unsigned char>(c) >= 0x80) return std::nullopt;
  }
  // uuid.UUID.__init__: hex.replace('urn:', '').replace('uuid:', '')
  std::string hex(raw);
  ReplaceAll(hex, "urn:");
  ReplaceAll(hex, "uuid:");
  // .strip('{}').replace('-', '')
  size_t b = hex.find_first_not_of("{}");
  if (b == std::string::npos) {
    hex.clear();
  } else {
    hex = hex.substr(b, hex.find_last_not_of("{}") - b + 1);
  }
  std::string compact;
  for (char c : hex) {
    if (c != '-') compact.push_back(c);
  }
  if (compact.size() != 32) return std::nullopt;
  UInt128 v = 0;
  bool negative = false;
  if (!ParseHexInt(compact, v, negative)) return std::nullopt;
  if (negative && v != 0) return std::nullopt;  // 0 <= int < 1 << 128
  static constexpr char kHex[] = "0123456789abcdef";
  std::string digits(32, '0');
  for (int i = 31; i >= 0; --i) {
    digits[static_cast<size_t>(i)] = kHex[static_cast<unsigned>(v & 0xF)];
    v >>= 4;
  }
  return digits.substr(0, 8) + "-" + digits.substr(8, 4) + "-" +
         digits.substr(12, 4) + "-" + digits.substr(16, 4) + "-" +
         digits.substr(20);
}

// ---- werkzeug parse_date / http_date ---------------------------------------

namespace {

constexpr std::array<std::string_view, 24> kMonthNames = {
    "jan",     "feb",      "mar",   "apr",   "may",  "jun",
    "jul",     "aug",      "sep",   "oct",   "nov",  "dec",
    "january", "february", "march", "april", "may",  "june",
    "july",    "august",   "september", "october", "november", "december"};
constexpr std::array<std::string_view, 7> kDayNames = {
    "mon", "tue", "wed", "thu", "fri", "sat", "sun"};

struct TzName {
  std::string_view name;
  int offset;  // in the table's +-HHMM form
};
constexpr std::array<TzName, 14> kTimezones = {{
    {"UT", 0},     {"UTC", 0},    {"GMT", 0},    {"Z", 0},
    {"AST", -400}, {"ADT", -300}, {"EST", -500}, {"EDT", -400},
    {"CST", -600}, {"CDT", -500}, {"MST", -700}, {"MDT", -600},
    {"PST", -800}, {"PDT", -700},
}};

// str.split() on ASCII text: runs of whitespace (str.isspace also counts
// \x1c-\x1f), no empty pieces.
std::vector<std::string> SplitWhitespace(std::string_view s) {
  auto space = [](char c) {
    return IsAsciiSpace(c) || (c >= 0x1C && c <= 0x1F);
  };
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && space(s[i])) ++i;
    size_t start = i;
    while (i < s.size() && !space(s[i])) ++i;
    if (i > start) out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    if (p == std::string_view::npos) {
      out.emplace_back(s.substr(start));
      return out;
    }
    out.emplace_back(s.substr(start, p - start));
    start = p + 1;
  }
}

// int(s) for base 10 on ASCII: whitespace, sign, digits with single '_'
// between them. More than 30 significant digits sets *huge (every caller
// only needs to know such a value is out of its ranges) and leaves v 0.
bool PythonInt(std::string_view s, Int128& v, bool* huge = nullptr) {
  s = StripAsciiSpace(s);
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s[0] == '_' || s.back() == '_') return false;
  std::string digits;
  char prev = '\0';
  for (char c : s) {
    if (c == '_') {
      if (prev == '_') return false;
    } else if (IsAsciiDigit(c)) {
      if (!digits.empty() || c != '0') digits.push_back(c);
    } else {
      return false;
    }
    prev = c;
  }
  v = 0;
  if (huge) *huge = false;
  if (digits.size() > 30) {
    if (huge) *huge = true;
    return true;
  }
  for (char c : digits) v = v * 10 + (c - '0');
  if (negative) v = -v;
  return true;
}

Result<std::optional<std::string>> NoDate() {
  return std::optional<std::string>();
}

Status TimedeltaOverflow() {
  return Status(Code::kUnknownVersion,
                "a ' d' date whose zone offset overflows timedelta "
                "(Flask answers 500)");
}

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// Days from 1970-01-01 to y-m-d (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, int& m, int& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y += m <= 2;
}

}  // namespace

// email._parseaddr._parsedate_tz (CPython 3.11) line by line, then
// email.utils.parsedate_to_datetime and werkzeug.http.parse_date/http_date.
Result<std::optional<std::string>> PythonHttpDate(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      return Status(Code::kUnknownVersion,
                    "a non-ASCII date in a ' d' tag (Flask writes ASCII)");
    }
  }
  if (text.empty()) return NoDate();
  std::vector<std::string> data = SplitWhitespace(text);
  if (data.empty()) return NoDate();
  auto is_dayname = [](const std::string& s) {
    std::string l = AsciiLower(s);
    for (auto d : kDayNames) {
      if (l == d) return true;
    }
    return false;
  };
  if (data[0].back() == ',' || is_dayname(data[0])) {
    data.erase(data.begin());
  } else {
    size_t i = data[0].rfind(',');
    if (i != std::string::npos) data[0] = data[0].substr(i + 1);
  }
  if (data.size() == 3) {  // RFC 850 date, deprecated
    std::vector<std::string> stuff = Split(data[0], '-');
    if (stuff.size() == 3) {
      stuff.push_back(data[1]);
      stuff.push_back(data[2]);
      data = stuff;
    }
  }
  if (data.size() == 4) {
    std::string s = data[3];
    size_t i = s.find('+');
    if (i == std::string::npos) i = s.find('-');
    if (i != std::string::npos && i > 0) {
      data[3] = s.substr(0, i);
      data.push_back(s.substr(i));
    } else {
      data.push_back("");  // dummy tz
    }
  }
  if (data.size() < 5) return NoDate();
  std::string dd = data[0], mm = data[1], yy = data[2], tm = data[3],
              tz = data[4];
  if (dd.empty() || mm.empty() || yy.empty()) return NoDate();
  auto month_index = [](const std::string& s) -> int {
    for (size_t i = 0; i < kMonthNames.size(); ++i) {
      if (s == kMonthNames[i]) return static_cast<int>(i);
    }
    return -1;
  };
  mm = AsciiLower(mm);
  int mi = month_index(mm);
  if (mi < 0) {
    std::string old_mm = mm;
    mm = AsciiLower(dd);
    dd = old_mm;
    mi = month_index(mm);
    if (mi < 0) return NoDate();
  }
  int month = mi + 1;
  if (month > 12) month -= 12;
  if (dd.back() == ',') dd.pop_back();
  size_t colon = yy.find(':');
  if (colon != std::string::npos && colon > 0) std::swap(yy, tm);
  if (yy.back() == ',') {
    yy.pop_back();
    if (yy.empty()) return NoDate();
  }
  if (!IsAsciiDigit(yy[0])) std::swap(yy, tz);
  if (tm.empty()) return NoDate();  // CPython: IndexError; see below
  if (tm.back() == ',') tm.pop_back();
  std::vector<std::string> parts = Split(tm, ':');
  std::string thh, tmm, tss;
  if (parts.size() == 2) {
    thh = parts[0];
    tmm = parts[1];
    tss = "0";
  } else if (parts.size() == 3) {
    thh = parts[0];
    tmm = parts[1];
    tss = parts[2];
  } else if (parts.size() == 1 && parts[0].find('.') != std::string::npos) {
    parts = Split(parts[0], '.');
    if (parts.size() == 2) {
      thh = parts[0];
      tmm = parts[1];
      tss = "0";
    } else if (parts.size() == 3) {
      thh = parts[0];
      tmm = parts[1];
      tss = parts[2];
    } else {
      return NoDate();
    }
  } else {
    return NoDate();
  }
  Int128 y, d, h, mi2, sec;
  bool big[5] = {};
  if (!PythonInt(yy, y, &big[0]) || !PythonInt(dd, d, &big[1]) ||
      !PythonInt(thh, h, &big[2]) || !PythonInt(tmm, mi2, &big[3]) ||
      !PythonInt(tss, sec, &big[4])) {
    return NoDate();
  }
  if (!big[0] && y < 100) y += y > 68 ? 1900 : 2000;
  std::optional<Int128> tzoffset;
  std::string tzu = AsciiUpper(tz);
  bool named = false;
  for (const auto& t : kTimezones) {
    if (tzu == t.name) {
      tzoffset = t.offset;
      named = true;
    }
  }
  if (!named) {
    Int128 off;
    bool huge = false;
    if (PythonInt(tzu, off, &huge)) {
      if (huge) return TimedeltaOverflow();
      tzoffset = off;
    }
    if (tzoffset && *tzoffset == 0 && !tzu.empty() && tzu[0] == '-') {
      tzoffset.reset();
    }
  }
  Int128 offset_seconds = 0;
  if (tzoffset && *tzoffset != 0) {
    Int128 a = *tzoffset < 0 ? -*tzoffset : *tzoffset;
    offset_seconds = (a / 100) * 3600 + (a % 100) * 60;
    if (*tzoffset < 0) offset_seconds = -offset_seconds;
  }
  // parsedate_to_datetime evaluates timezone(timedelta(seconds=tz)) before
  // datetime(): timedelta raises OverflowError past 999999999 days, which
  // parse_date does not catch (Flask answers 500); timezone() raises
  // ValueError outside +-24 h, and parse_date gives None.
  constexpr Int128 kMaxTimedeltaSeconds =
      static_cast<Int128>(1000000000) * 86400;
  if (offset_seconds >= kMaxTimedeltaSeconds ||
      offset_seconds <= -kMaxTimedeltaSeconds) {
    return TimedeltaOverflow();
  }
  if (offset_seconds <= -86400 || offset_seconds >= 86400) return NoDate();
  // datetime() reads its fields as C ints (OverflowError, uncaught), then
  // checks their ranges (ValueError, None).
  constexpr Int128 kIntMax = std::numeric_limits<int>::max();
  constexpr Int128 kIntMin = std::numeric_limits<int>::min();
  for (int i = 0; i < 5; ++i) {
    Int128 field = i == 0 ? y : i == 1 ? d : i == 2 ? h : i == 3 ? mi2 : sec;
    if (big[i] || field > kIntMax || field < kIntMin) {
      return Status(Code::kUnknownVersion,
                    "a ' d' date field overflows a C int (Flask answers 500)");
    }
  }
  if (y < 1 || y > 9999 || h < 0 || h > 23 || mi2 < 0 || mi2 > 59 ||
      sec < 0 || sec > 59 || d < 1 ||
      d > DaysInMonth(static_cast<int64_t>(y), month)) {
    return NoDate();
  }
  // http_date: the datetime in UTC, "%a, %d %b %Y %H:%M:%S GMT".
  int64_t days = DaysFromCivil(static_cast<int64_t>(y), month,
                               static_cast<int64_t>(d));
  int64_t t = days * 86400 + static_cast<int64_t>(h) * 3600 +
              static_cast<int64_t>(mi2) * 60 + static_cast<int64_t>(sec) -
              static_cast<int64_t>(offset_seconds);
  int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
  int64_t rem = t - day * 86400;
  int64_t oy;
  int om, od;
  CivilFromDays(day, oy, om, od);
  if (oy < 1 || oy > 9999) {
    // A valid datetime whose UTC form leaves years 1-9999: Flask keeps it,
    // but it has no http_date for sessiond's data (docs/migration.md).
    return Status(Code::kUnknownVersion, "a ' d' date outside years 1-9999 in UTC");
  }
  static constexpr std::array<std::string_view, 7> kWeekday = {
      "Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};  // 1970-01-01: Thu
  static constexpr std::array<std::string_view, 12> kMonth = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun",
      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int64_t wd = ((day % 7) + 7) % 7;
  char buf[160];  // room for any int64 in every field
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04lld %02lld:%02lld:%02lld GMT",
                std::string(kWeekday[static_cast<size_t>(wd)]).c_str(), od,
                std::string(kMonth[static_cast<size_t>(om - 1)]).c_str(),
                static_cast<long long>(oy), static_cast<long long>(rem / 3600),
                static_cast<long long>((rem / 60) % 60),
                static_cast<long long>(rem % 60));
  return std::optional<std::string>(std::string(buf));
}

}  // namespace sessiond::legacy_detail
