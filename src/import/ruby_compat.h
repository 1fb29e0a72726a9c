// Ruby 3.1 and Rack 2.2 behaviours that decide whether a Rails 6.1 cookie is
// accepted: Rack's cookie unescaping, String#split with a string separator,
// Base64.strict_decode64/strict_encode64, Rack's escaping for Set-Cookie,
// and Time.iso8601 / Time#iso8601(3) for the "_rails" envelope's expiry.
// Written by hand for the same reason as python_compat.h: the leniencies
// of these exact functions decide acceptance. Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sessiond::legacy_detail {

// Rack::Utils.unescape (URI.decode_www_form_component), as
// Rack::Utils.parse_cookies_header applies it to every cookie value: '+'
// becomes a space and %XX (either case) the byte; a '%' not followed by
// two hex digits makes it raise, and Rack then keeps the raw value (so
// does this function).
std::string RackUnescapeCookie(std::string_view value);
// Rack::Utils.escape (URI.encode_www_form_component): what Rack writes in
// Set-Cookie. Keeps A-Z a-z 0-9 * - . _, space as '+', the rest %XX.
std::string RackEscape(std::string_view value);

// String#split(sep) with a non-empty string separator and no limit:
// non-overlapping matches left to right, trailing empty fields removed.
std::vector<std::string_view> RubySplit(std::string_view s,
                                        std::string_view sep);

// Base64.strict_decode64 (unpack1("m0")): the standard alphabet, length a
// multiple of 4, padding only at the end, zero unused bits; nullopt where
// it raises ArgumentError.
std::optional<std::string> RubyStrictDecode64(std::string_view s);
std::string RubyStrictEncode64(std::string_view bytes);

// A time as Time.iso8601 reads it, exactly: whole Unix seconds plus the
// fraction digits as written (compared without rounding).
struct RubyTime {
  int64_t seconds = 0;
  std::string fraction;  // decimal digits after the point, may be empty
};
// Time.iso8601 (time.rb, Time.xmlschema): YYYY-MM-DDThh:mm:ss[.frac]
// (Z|+hh:mm|-hh:mm), or a bare date YYYY-MM-DD (midnight local time,
// which this function refuses: see docs/migration.md); the ranges
// Time accepts. nullopt where it raises ArgumentError.
std::optional<RubyTime> RubyTimeIso8601(std::string_view s);
// now < t, exactly (now in Unix microseconds).
bool RubyTimeAfter(const RubyTime& t, int64_t now_micros);
// Time#utc.iso8601(3) of Unix microseconds: "2024-01-02T03:04:05.678Z"
// (milliseconds truncated, as Ruby truncates).
std::string RubyIso8601Millis(int64_t unix_micros);

}  // namespace sessiond::legacy_detail
