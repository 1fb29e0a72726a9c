// Django 3.2's signed_cookies session backend: django.core.signing's
// TimestampSigner (salt "django.contrib.sessions.backends.signed_cookies")
// over its JSONSerializer, compressed when that is shorter. As Django
// writes it:
//
//   cookie    = value ":" signature
//   value     = payload ":" timestamp
//   payload   = b64 / "." b64     ; b64(json) or "." b64(zlib(json)), the
//                                  ; latter when 2+ bytes shorter
//   timestamp = 1*base62          ; Unix seconds, 0-9 A-Z a-z
//   signature = b64(HMAC-H(K, value)), 43 characters for SHA-256
//   K         = H(salt "signer" SECRET_KEY)   ; salted_hmac's key
//   H         = DEFAULT_HASHING_ALGORITHM (sha256), or SHA-1 (27
//               characters), which Signer accepts as legacy_algorithm
//   b64       = base64url without padding
//   json      = json.dumps(session, separators=(",", ":")) (ASCII only),
//               read back as Latin-1 text
//
// Read as Django reads it: the signature must be exactly the text Django
// would write (string comparison, no decoding); the payload is decoded by
// CPython's non-strict base64; the timestamp may be negative ("-" prefix)
// and have leading zeros; a cookie from the future is accepted; the age
// is the float time.time() - timestamp, refused when > SESSION_COOKIE_AGE.
#include <cmath>
#include <cstdlib>

#include "import/formats.h"
#include "import/python_compat.h"

namespace sessiond::legacy_detail {
namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// django.utils.baseconv.base62.decode, then float(int) as time.time() -
// timestamp needs it: the exact integer (any size) correctly rounded.
// nullopt where decode raises (empty, a character outside the alphabet);
// an error where float() overflows (OverflowError, refused by load()).
Result<std::optional<double>> Base62ToFloat(std::string_view s,
                                            int64_t& clamped) {
  if (s.empty()) return std::optional<double>();  // str(number)[0]: IndexError
  bool negative = s[0] == '-';
  if (negative) s.remove_prefix(1);
  // Base 10^9 limbs, most significant last.
  std::vector<uint32_t> limbs{0};
  for (char c : s) {
    size_t d = kBase62.find(c);
    if (d == std::string_view::npos) return std::optional<double>();
    uint64_t carry = d;
    for (auto& limb : limbs) {
      uint64_t x = static_cast<uint64_t>(limb) * 62 + carry;
      limb = static_cast<uint32_t>(x % 1'000'000'000);
      carry = x / 1'000'000'000;
    }
    while (carry) {
      limbs.push_back(static_cast<uint32_t>(carry % 1'000'000'000));
      carry /= 1'000'000'000;
    }
  }
  std::string decimal = negative ? "-" : "";
  decimal += std::to_string(limbs.back());
  for (size_t i = limbs.size() - 1; i-- > 0;) {
    std::string part = std::to_string(limbs[i]);
    decimal.append(9 - part.size(), '0');
    decimal += part;
  }
  double d = std::strtod(decimal.c_str(), nullptr);
  if (std::isinf(d)) {
    return Status(Code::kBadEncoding, "timestamp too large for a float");
  }
  char* end = nullptr;
  errno = 0;
  long long ll = std::strtoll(decimal.c_str(), &end, 10);
  clamped = static_cast<int64_t>(ll);  // saturates at the int64 range
  return std::optional<double>(d);
}

std::string Base62Encode(int64_t v) {
  // baseconv encode; Django only signs non-negative times.
  if (v == 0) return "0";
  bool negative = v < 0;
  uint64_t u = negative ? static_cast<uint64_t>(-(v + 1)) + 1
                        : static_cast<uint64_t>(v);
  std::string out;
  while (u > 0) {
    out.insert(out.begin(), kBase62[u % 62]);
    u /= 62;
  }
  return negative ? "-" + out : out;
}

std::string Signature(Digest d, const std::string& key, std::string_view value) {
  return PythonB64Encode(Hmac(d, key, value), /*urlsafe=*/true, /*strip=*/true);
}

}  // namespace

DjangoCookieFormat::DjangoCookieFormat(const DjangoCookieOptions& options,
                                       Digest algorithm)
    : algorithm_(algorithm), max_age_(options.session_cookie_age) {
  // salted_hmac(key_salt = salt + "signer", value, secret): the HMAC key is
  // hasher(key_salt + secret).digest().
  const std::string key_salt = options.salt + "signer";
  for (const auto& secret : options.secret_keys) {
    keys_.push_back(Keys{Hash(algorithm, key_salt + secret),
                         Hash(Digest::kSha1, key_salt + secret)});
  }
}

Result<LegacySession> DjangoCookieFormat::Verify(std::string_view cookie,
                                                 int64_t now_micros) const {
  if (cookie.size() > kMaxLegacyCookieBytes) {
    return Refuse(Code::kTooLarge, "cookie over 8192 bytes");
  }
  // Any non-ASCII character changes the HMAC input or the compared
  // signature text, so no such cookie verifies.
  for (unsigned char c : cookie) {
    if (c >= 0x80) return Refuse(Code::kBadEncoding, "non-ASCII character");
  }
  // SessionBase._validate_session_key: shorter than 8 is no session key.
  if (cookie.size() < 8) return Refuse(Code::kTruncated, "shorter than 8");
  // Signer.unsign
  size_t colon = cookie.rfind(':');
  if (colon == std::string_view::npos) {
    return Refuse(Code::kBadEncoding, "no ':' found");
  }
  std::string_view value = cookie.substr(0, colon);
  std::string_view sig = cookie.substr(colon + 1);
  LegacySession session;
  session.format = LegacyFormat::kDjango;
  bool verified = false;
  for (size_t i = 0; i < keys_.size() && !verified; ++i) {
    if (ConstantTimeEqual(sig, Signature(algorithm_, keys_[i].main, value))) {
      verified = true;
      session.secret_index = i;
      session.legacy = algorithm_ == Digest::kSha1;
    } else if (ConstantTimeEqual(
                   sig, Signature(Digest::kSha1, keys_[i].legacy, value))) {
      verified = true;
      session.secret_index = i;
      session.legacy = true;
    }
  }
  if (!verified) {
    return sig.size() < 27 ? Refuse(Code::kTruncated, "signature too short")
                           : Refuse(Code::kBadMac, "signature does not match");
  }
  // TimestampSigner.unsign
  size_t tcolon = value.rfind(':');
  if (tcolon == std::string_view::npos) {
    return Refuse(Code::kBadEncoding, "timestamp missing");
  }
  int64_t ts_clamped = 0;
  Result<std::optional<double>> ts =
      Base62ToFloat(value.substr(tcolon + 1), ts_clamped);
  if (!ts.ok()) return ts.status();
  if (!ts->has_value()) return Refuse(Code::kBadEncoding, "bad timestamp");
  const double age = PythonTime(now_micros) - **ts;
  if (age > static_cast<double>(max_age_)) {
    return Refuse(Code::kExpired, "older than SESSION_COOKIE_AGE");
  }
  // Signer.unsign_object
  std::string_view payload = value.substr(0, tcolon);
  bool compressed = !payload.empty() && payload[0] == '.';
  if (compressed) payload.remove_prefix(1);
  std::string padded(payload);
  padded.append((4 - payload.size() % 4) % 4, '=');
  std::optional<std::string> data = PythonB64Decode(padded, true);
  if (!data) return Refuse(Code::kUnknownVersion, "payload is not base64");
  if (compressed) {
    Result<std::string> inflated =
        PythonZlibDecompress(*data, kMaxLegacyPayloadBytes);
    if (!inflated.ok()) {
      return inflated.code() == Code::kTooLarge
                 ? inflated.status()
                 : Refuse(Code::kUnknownVersion, inflated.status().message());
    }
    data = std::move(*inflated);
  }
  // JSONSerializer.loads: json.loads(data.decode("latin-1")).
  std::string text;
  text.reserve(data->size());
  for (unsigned char c : *data) {
    if (c < 0x80) {
      text.push_back(static_cast<char>(c));
    } else {
      text.push_back(static_cast<char>(0xC0 | (c >> 6)));
      text.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  Result<JsonValue> doc = ParseJson(text, JsonDialect::kPython);
  if (!doc.ok()) return Refuse(Code::kUnknownVersion, doc.status().message());
  // SessionBase treats what load() returns as a dict.
  if (!doc->is_object()) {
    return Refuse(Code::kUnknownVersion, "the session is not a dict");
  }
  session.data = std::move(*doc);
  session.signed_at = ts_clamped;
  session.expires_at =
      ClampToInt64(std::ceil(**ts + static_cast<double>(max_age_)));
  session.authenticated = std::string(value);
  return session;
}

Result<std::string> DjangoCookieFormat::Render(
    const LegacyRenderInput& input) const {
  if (!input.data.is_object()) {
    return Status(Code::kInvalidArgument, "session data must be an object");
  }
  // signing.dumps(..., compress=True): json.dumps(separators=(",", ":")),
  // ASCII only, keys in the session's order.
  std::string json = WriteJson(input.data, JsonStyle::kPythonCompact);
  std::string payload;
  std::string compressed = PythonZlibCompress(json);
  if (compressed.size() + 1 < json.size()) {
    payload = "." + PythonB64Encode(compressed, true, true);
  } else {
    payload = PythonB64Encode(json, true, true);
  }
  std::string value =
      payload + ":" + Base62Encode(FloorSeconds(input.now_micros));
  std::string cookie =
      value + ":" + Signature(algorithm_, keys_.front().main, value);
  if (cookie.size() > 4096) {
    return Status(Code::kTooLarge, "cookie over 4096 bytes");
  }
  return cookie;
}

}  // namespace sessiond::legacy_detail
