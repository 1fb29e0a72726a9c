// libFuzzer target: what lies behind the MAC. The input is signed (Flask,
// Pyramid, Django) or encrypted (Rails) with the fuzzer's key exactly as
// the framework would, so Verify reaches the payload decoders (JSON
// dialects, Flask's tags, Pyramid's triple, Rails' envelope). An accepted
// cookie must hold an object that Render writes back to the same data.
// For fuzz/ to wire; seeds: JSON session documents.
#include <cstdint>
#include <memory>
#include <string>

#include "import/crypto.h"
#include "import/legacy_cookie.h"
#include "import/python_compat.h"
#include "import/ruby_compat.h"

namespace {

using namespace sessiond;
using namespace sessiond::legacy_detail;

constexpr int64_t kNow = 1'700'000'000'000'000;
constexpr std::string_view kSecret = "fuzz-secret";

struct Formats {
  std::unique_ptr<LegacyCookieFormat> flask, pyramid, django, rails;
  std::string rails_key;
};

const Formats& Get() {
  static const Formats* f = [] {
    auto* out = new Formats;
    FlaskCookieOptions fo;
    fo.secret_keys = {std::string(kSecret)};
    out->flask = NewFlaskCookieFormat(fo).value();
    PyramidCookieOptions po;
    po.secrets = {std::string(kSecret)};
    out->pyramid = NewPyramidCookieFormat(po).value();
    DjangoCookieOptions dj;
    dj.secret_keys = {std::string(kSecret)};
    out->django = NewDjangoCookieFormat(dj).value();
    RailsCookieOptions ro;
    ro.secret_key_bases = {std::string(kSecret)};
    ro.cookie_name = "_s";
    ro.value_is_escaped = false;
    out->rails = NewRailsCookieFormat(ro).value();
    out->rails_key = Pbkdf2HmacSha1(kSecret, "authenticated encrypted cookie",
                                    1000, 32);
    return out;
  }();
  return *f;
}

std::string B64(std::string_view s) { return PythonB64Encode(s, true, true); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Formats& f = Get();
  if (size < 1) return 0;
  std::string in(reinterpret_cast<const char*>(data + 1), size - 1);
  const LegacyCookieFormat* fmt = nullptr;
  std::string cookie;
  switch (data[0] % 5) {
    case 0:
    case 1: {  // Flask, plain or compressed payload
      std::string payload = data[0] % 5 == 1
                                ? "." + B64(PythonZlibCompress(in))
                                : B64(in);
      std::string value = payload + "." + B64(std::string("\x65\x53\xf1\x00", 4));
      std::string key = Hmac(Digest::kSha1, kSecret, "cookie-session");
      cookie = value + "." + B64(Hmac(Digest::kSha1, key, value));
      fmt = f.flask.get();
      break;
    }
    case 2:
      cookie = B64(Hmac(Digest::kSha512,
                        "pyramid.session." + std::string(kSecret), in) + in);
      fmt = f.pyramid.get();
      break;
    case 3: {
      std::string value = B64(in) + ":1NrWhM";
      std::string key = Hash(Digest::kSha256,
                             "django.contrib.sessions.backends.signed_cookies"
                             "signer" + std::string(kSecret));
      cookie = value + ":" + B64(Hmac(Digest::kSha256, key, value));
      fmt = f.django.get();
      break;
    }
    default: {
      if (in.empty()) return 0;  // Rails cannot decrypt an empty message
      std::string iv(12, 'i');
      Result<Sealed> s = AesGcmSeal(f.rails_key, iv, in);
      if (!s.ok()) __builtin_trap();
      cookie = RubyStrictEncode64(s->ciphertext) + "--" +
               RubyStrictEncode64(iv) + "--" + RubyStrictEncode64(s->tag);
      fmt = f.rails.get();
      break;
    }
  }
  Result<LegacySession> got = fmt->Verify(cookie, kNow);
  if (!got.ok()) return 0;
  if (!got->data.is_object()) __builtin_trap();
  LegacyRenderInput back;
  back.data = got->data;
  back.now_micros = kNow;
  Result<std::string> rendered = fmt->Render(back);
  if (!rendered.ok()) return 0;  // too large for a cookie
  Result<LegacySession> again = fmt->Verify(*rendered, kNow);
  // Flask sorts keys when it writes: compare without order.
  if (!again.ok() || WriteJson(again->data, JsonStyle::kCompact, true) !=
                         WriteJson(got->data, JsonStyle::kCompact, true)) {
    __builtin_trap();
  }
  return 0;
}
