// libFuzzer target: every old-cookie verifier and the compat decoders on
// arbitrary bytes (the first byte picks which). Nothing may crash, hang or
// read out of bounds; a JSON text that parses must write back to a text
// that parses to the same value. For fuzz/ to wire (see the import report);
// seeds: the cookies in build/<preset>/src/import/vectors/*.json.
#include <cstdint>
#include <memory>
#include <string>

#include "import/legacy_cookie.h"
#include "import/python_compat.h"
#include "import/ruby_compat.h"
#include "sessiond/session.h"

namespace {

using namespace sessiond;

std::unique_ptr<LegacyCookieFormat> Make(int which) {
  switch (which) {
    case 0: {
      FlaskCookieOptions o;
      o.secret_keys = {"fuzz-secret"};
      return NewFlaskCookieFormat(o).value();
    }
    case 1: {
      PyramidCookieOptions o;
      o.secrets = {"fuzz-secret"};
      return NewPyramidCookieFormat(o).value();
    }
    case 2: {
      DjangoCookieOptions o;
      o.secret_keys = {"fuzz-secret"};
      return NewDjangoCookieFormat(o).value();
    }
    default: {
      RailsCookieOptions o;
      o.secret_key_bases = {"fuzz-secret"};
      o.cookie_name = "_s";
      return NewRailsCookieFormat(o).value();
    }
  }
}

void CheckJsonRoundTrip(std::string_view s, JsonDialect dialect,
                        JsonStyle style) {
  Result<JsonValue> v = ParseJson(s, dialect);
  if (!v.ok()) return;
  Result<JsonValue> again = ParseJson(WriteJson(*v, style), dialect);
  if (!again.ok() || !JsonEquivalent(*v, *again)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto* formats = new std::unique_ptr<LegacyCookieFormat>[4]{
      Make(0), Make(1), Make(2), Make(3)};
  if (size < 1) return 0;
  std::string_view s(reinterpret_cast<const char*>(data + 1), size - 1);
  constexpr int64_t kNow = 1'700'000'000'000'000;
  namespace d = sessiond::legacy_detail;
  switch (data[0] % 8) {
    case 0:
    case 1:
    case 2:
    case 3:
      (void)formats[data[0] % 8]->Verify(s, kNow);
      break;
    case 4:
      CheckJsonRoundTrip(s, JsonDialect::kPython, JsonStyle::kPythonCompact);
      break;
    case 5:
      CheckJsonRoundTrip(s, JsonDialect::kRuby, JsonStyle::kRails);
      break;
    case 6:
      (void)d::PythonHttpDate(s);
      (void)d::PythonUuid(s);
      (void)d::PythonFloatFromString(s);
      (void)d::PythonB64Decode(s, true);
      if (!IsUtf8(d::PythonUtf8Replace(s))) __builtin_trap();
      break;
    default: {
      (void)d::RubyTimeIso8601(s);
      std::optional<std::string> b = d::RubyStrictDecode64(s);
      if (b && d::RubyStrictEncode64(*b) != s) __builtin_trap();  // canonical
      if (d::RackUnescapeCookie(d::RackEscape(s)) != s) __builtin_trap();
      break;
    }
  }
  return 0;
}
