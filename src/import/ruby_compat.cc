// Ruby and Rack behaviours the Rails cookie depends on (ruby_compat.h).
// Each function names the Ruby code it follows; the Rails test vectors
// (testdata/mint_rails.rb) check them against the real thing.
#include "import/ruby_compat.h"

#include <array>
#include <cstdio>
#include <limits>

namespace sessiond::legacy_detail {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int B64Value(char c) {
  size_t p = kAlphabet.find(c);
  return p == std::string_view::npos ? -1 : static_cast<int>(p);
}

}  // namespace

// uri/common.rb decode_www_form_component: raises on /%(?!\h\h)/, else
// gsub(/\+|%\h\h/); Rack::Utils.parse_cookies_header rescues to the raw value.
std::string RackUnescapeCookie(std::string_view v) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '%' && (i + 2 >= v.size() || HexDigit(v[i + 1]) < 0 ||
                        HexDigit(v[i + 2]) < 0)) {
      return std::string(v);
    }
  }
  std::string out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '+') {
      out.push_back(' ');
    } else if (v[i] == '%') {
      out.push_back(
          static_cast<char>(HexDigit(v[i + 1]) * 16 + HexDigit(v[i + 2])));
      i += 2;
    } else {
      out.push_back(v[i]);
    }
  }
  return out;
}

std::string RackEscape(std::string_view v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : v) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '*' || c == '-' || c == '.' ||
        c == '_') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::vector<std::string_view> RubySplit(std::string_view s,
                                        std::string_view sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    if (p == std::string_view::npos) {
      out.push_back(s.substr(start));
      break;
    }
    out.push_back(s.substr(start, p - start));
    start = p + sep.size();
  }
  while (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

// pack.c, 'm' with count 0 (strict).
std::optional<std::string> RubyStrictDecode64(std::string_view s) {
  if (s.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(s.size() / 4 * 3);
  for (size_t i = 0; i < s.size(); i += 4) {
    int a = B64Value(s[i]), b = B64Value(s[i + 1]);
    if (a < 0 || b < 0) return std::nullopt;
    bool last = i + 4 == s.size();
    if (last && s[i + 2] == '=') {
      if (s[i + 3] != '=' || (b & 0x0F) != 0) return std::nullopt;
      out.push_back(static_cast<char>((a << 2) | (b >> 4)));
      break;
    }
    int c = B64Value(s[i + 2]);
    if (c < 0) return std::nullopt;
    if (last && s[i + 3] == '=') {
      if ((c & 0x03) != 0) return std::nullopt;
      out.push_back(static_cast<char>((a << 2) | (b >> 4)));
      out.push_back(static_cast<char>(((b & 0x0F) << 4) | (c >> 2)));
      break;
    }
    int d = B64Value(s[i + 3]);
    if (d < 0) return std::nullopt;
    out.push_back(static_cast<char>((a << 2) | (b >> 4)));
    out.push_back(static_cast<char>(((b & 0x0F) << 4) | (c >> 2)));
    out.push_back(static_cast<char>(((c & 0x03) << 6) | d));
  }
  return out;
}

std::string RubyStrictEncode64(std::string_view bytes) {
  std::string out;
  size_t i = 0;
  auto b = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  if (bytes.size() - i == 1) {
    uint32_t n = b(i) << 16;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out += "==";
  } else if (bytes.size() - i == 2) {
    uint32_t n = (b(i) << 16) | (b(i + 1) << 8);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out += "=";
  }
  return out;
}

// ---- Time.iso8601 ------------------------------------------------------------

namespace {

bool Leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int MonthDays(int64_t y, int64_t m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  return m == 2 && Leap(y) ? 29 : kDays[m - 1];
}

int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// Ruby's Integer#divmod: floor division.
void DivMod(int64_t a, int64_t b, int64_t& q, int64_t& r) {
  q = a / b;
  r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) {
    q -= 1;
    r += b;
  }
}

bool ParseFixed(std::string_view s, size_t& i, size_t n, int64_t& v) {
  if (i + n > s.size()) return false;
  v = 0;
  for (size_t k = 0; k < n; ++k) {
    if (!IsDigit(s[i + k])) return false;
    v = v * 10 + (s[i + k] - '0');
  }
  i += n;
  return true;
}

bool IsRubySpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
         c == '\r';
}

}  // namespace

// time.rb Time.xmlschema (Ruby 3.1), apply_offset and zone_offset, then
// Time.utc's range checks (mon 1-12, mday 1-31, hour 0-24, min 0-59 or 0
// at 24h, sec 0-60 or 0 at 24h; a day past the month's end and a leap
// second roll over) and force_zone!'s |offset| < 24 h.
std::optional<RubyTime> RubyTimeIso8601(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsRubySpace(s[i])) ++i;
  bool negative_year = false;
  if (i < s.size() && s[i] == '-') {
    negative_year = true;
    ++i;
  }
  size_t ystart = i;
  int64_t year = 0;
  bool year_huge = false;
  while (i < s.size() && IsDigit(s[i])) {
    if (year > 100'000'000'000LL) year_huge = true;
    else year = year * 10 + (s[i] - '0');
    ++i;
  }
  if (i == ystart) return std::nullopt;
  if (negative_year) year = -year;
  int64_t mon, day, hour, min, sec;
  if (i >= s.size() || s[i++] != '-' || !ParseFixed(s, i, 2, mon) ||
      i >= s.size() || s[i++] != '-' || !ParseFixed(s, i, 2, day) ||
      i >= s.size() || (s[i] != 'T' && s[i] != 't')) {
    return std::nullopt;
  }
  ++i;
  if (!ParseFixed(s, i, 2, hour) || i >= s.size() || s[i++] != ':' ||
      !ParseFixed(s, i, 2, min) || i >= s.size() || s[i++] != ':' ||
      !ParseFixed(s, i, 2, sec)) {
    return std::nullopt;
  }
  RubyTime t;
  if (i < s.size() && s[i] == '.' && i + 1 < s.size() && IsDigit(s[i + 1])) {
    ++i;
    while (i < s.size() && IsDigit(s[i])) t.fraction.push_back(s[i++]);
  }
  bool has_zone = false;
  int64_t off = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    has_zone = true;
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    bool minus = s[i] == '-';
    size_t z = i + 1;
    int64_t hh, mm = 0;
    if (!ParseFixed(s, z, 2, hh)) return std::nullopt;
    size_t after_hh = z;
    if (z < s.size() && s[z] == ':') ++z;
    if (z + 2 <= s.size() && IsDigit(s[z]) && IsDigit(s[z + 1])) {
      ParseFixed(s, z, 2, mm);
    } else {
      z = after_hh;  // "+hh": the optional ":mm" is absent
    }
    has_zone = true;
    off = (hh * 60 + mm) * 60;
    if (minus) off = -off;
    i = z;
  }
  while (i < s.size() && IsRubySpace(s[i])) ++i;
  if (i != s.size()) return std::nullopt;
  // Without a zone Ruby reads the time in the process's local zone, which
  // sessiond cannot know: refused (docs/migration.md).
  if (!has_zone) return std::nullopt;
  if (year_huge) {
    t.seconds = negative_year ? std::numeric_limits<int64_t>::min()
                              : std::numeric_limits<int64_t>::max();
    return t;
  }
  // apply_offset
  int64_t q, r;
  if (off < 0) {
    int64_t o;
    int64_t a = -off;
    DivMod(a, 60, a, o);
    if (o != 0) { sec += o; DivMod(sec, 60, q, r); sec = r; a += q; }
    DivMod(a, 60, a, o);
    if (o != 0) { min += o; DivMod(min, 60, q, r); min = r; a += q; }
    DivMod(a, 24, a, o);
    if (o != 0) { hour += o; DivMod(hour, 24, q, r); hour = r; a += q; }
    if (a != 0) {
      day += a;
      // month_days indexes an Array with mon - 1: 0 wraps to December,
      // past 12 gives nil (no rollover).
      int days = mon == 0 ? 31 : (mon >= 1 && mon <= 12) ? MonthDays(year, mon)
                                                         : -1;
      if (days >= 0 && days < day) {
        mon += 1;
        if (mon > 12) {
          mon = 1;
          year += 1;
        }
        day = 1;
      }
    }
  } else if (off > 0) {
    int64_t o;
    int64_t a = off;
    DivMod(a, 60, a, o);
    if (o != 0) { sec -= o; DivMod(sec, 60, q, r); sec = r; a -= q; }
    DivMod(a, 60, a, o);
    if (o != 0) { min -= o; DivMod(min, 60, q, r); min = r; a -= q; }
    DivMod(a, 24, a, o);
    if (o != 0) { hour -= o; DivMod(hour, 24, q, r); hour = r; a -= q; }
    if (a != 0) {
      day -= a;
      if (day < 1) {
        mon -= 1;
        if (mon < 1) {
          year -= 1;
          mon = 12;
        }
        if (mon > 12) return std::nullopt;  // Ruby: nil day, then an error
        day = MonthDays(year, mon);
      }
    }
  }
  // Time.utc
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour < 0 || hour > 24 ||
      min < 0 || min > (hour == 24 ? 0 : 59) || sec < 0 ||
      sec > (hour == 24 ? 0 : 60)) {
    return std::nullopt;
  }
  // force_zone!
  if (off <= -86400 || off >= 86400) return std::nullopt;
  t.seconds = (DaysFromCivil(year, mon, 1) + day - 1) * 86400 + hour * 3600 +
              min * 60 + sec;
  return t;
}

bool RubyTimeAfter(const RubyTime& t, int64_t now_micros) {
  int64_t now_s, now_us;
  DivMod(now_micros, 1'000'000, now_s, now_us);
  if (now_s != t.seconds) return now_s < t.seconds;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%06lld", static_cast<long long>(now_us));
  std::string now_frac(buf);
  std::string exp_frac = t.fraction;
  size_t n = std::max(now_frac.size(), exp_frac.size());
  now_frac.resize(n, '0');
  exp_frac.resize(n, '0');
  return now_frac < exp_frac;
}

std::string RubyIso8601Millis(int64_t unix_micros) {
  int64_t secs, us;
  DivMod(unix_micros, 1'000'000, secs, us);
  int64_t days, rem;
  DivMod(secs, 86400, days, rem);
  // civil from days
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[160];  // room for any int64 in every field
  std::snprintf(buf, sizeof(buf), "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), static_cast<long long>(m),
                static_cast<long long>(d), static_cast<long long>(rem / 3600),
                static_cast<long long>((rem / 60) % 60),
                static_cast<long long>(rem % 60),
                static_cast<long long>(us / 1000));
  return buf;
}

}  // namespace sessiond::legacy_detail
