// CPython 3.11 behaviours that decide whether a Flask, Pyramid or Django
// cookie is accepted and what its data is, reproduced where the frameworks
// lean on them: the non-strict base64 decoder (binascii.a2b_base64), UTF-8
// decoding with errors="replace", zlib.decompress, float() and repr(float),
// int(x, 16), uuid.UUID(hex) and werkzeug's parse_date/http_date. Each one
// is small and written by hand because no C/C++ library reproduces
// CPython's exact leniencies (which are what decide acceptance here).
// Stateless; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sessiond/status.h"

namespace sessiond::legacy_detail {

// Python integers do not overflow; 128 bits hold every value these
// emulations meet before they are out of the frameworks' ranges anyway.
__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

// binascii.a2b_base64(data, strict_mode=False) as CPython 3.11 runs it, the
// decoder under base64.b64decode and urlsafe_b64decode: characters outside
// the alphabet are skipped, decoding stops at the first complete padding,
// leftover bits are dropped. nullopt where it raises binascii.Error
// ("Incorrect padding", or one data character too many). urlsafe maps '-'
// and '_' to '+' and '/' first (so both alphabets decode).
std::optional<std::string> PythonB64Decode(std::string_view data,
                                           bool urlsafe);
// base64.urlsafe_b64encode / b64encode; strip removes the '=' padding.
std::string PythonB64Encode(std::string_view bytes, bool urlsafe, bool strip);

// bytes.decode("utf-8", errors="replace").encode("utf-8"): every maximal
// invalid subsequence becomes one U+FFFD, as CPython's decoder does (how
// Werkzeug turns the Cookie header into str).
std::string PythonUtf8Replace(std::string_view bytes);

// UTF-8 code points of valid UTF-8 text, each as its own string
// (Python's iteration over a str).
std::vector<std::string> PythonChars(std::string_view utf8);

// zlib.decompress(data): a zlib stream (header, deflate, Adler-32) that must
// end; bytes after its end are ignored as CPython ignores them. Refuses
// (TOO_LARGE) output over max_output (a bound CPython does not have; see
// docs/migration.md) and anything zlib refuses (BAD_ENCODING).
Result<std::string> PythonZlibDecompress(std::string_view data,
                                         size_t max_output);
// zlib.compress(data) at its default level (Z_DEFAULT_COMPRESSION), the
// same bytes CPython's zlib module (linked to the same zlib) produces.
std::string PythonZlibCompress(std::string_view data);

// repr(float): the shortest text that reads back to x, in fixed notation
// when the decimal exponent is in [-4, 16) else in scientific ("1e+16"),
// with ".0" on integral fixed values; "nan", "inf", "-inf".
std::string PythonFloatRepr(double x);

// float(s) for a str s: ASCII whitespace stripped, optional sign, decimal
// digits with single '_' between digits, optional fraction and exponent, or
// inf / infinity / nan in any case. nullopt where float() raises ValueError.
// (CPython also strips non-ASCII whitespace and reads non-ASCII digits; a
// cookie that relies on that is refused here: see docs/migration.md.)
std::optional<double> PythonFloatFromString(std::string_view s);

// uuid.UUID(s) then str(): strips "urn:" and "uuid:", braces and hyphens,
// needs 32 characters that int(x, 16) reads (0x prefix, sign, '_' between
// digits, surrounding whitespace) to a value in [0, 2^128). Returns the
// hyphenated lowercase form, or nullopt where UUID() raises ValueError.
std::optional<std::string> PythonUuid(std::string_view s);

// werkzeug.http.http_date(werkzeug.http.parse_date(s)) as Flask 2.2 does it
// for the " d" tag: email.utils.parsedate_to_datetime (every leniency of
// email._parseaddr._parsedate_tz: optional day name, RFC 850 dates,
// two-digit years, named and numeric zones, '.' as time separator), the
// datetime range checks, then the date in UTC as an IMF-fixdate
// ("Sun, 06 Nov 1994 08:49:37 GMT"). nullopt where parse_date returns None;
// UNKNOWN_VERSION where Flask raises instead (it answers 500), where the
// UTC form leaves years 1-9999, and for non-ASCII text (whose Unicode case
// and digit rules are not reproduced).
Result<std::optional<std::string>> PythonHttpDate(std::string_view s);

}  // namespace sessiond::legacy_detail
