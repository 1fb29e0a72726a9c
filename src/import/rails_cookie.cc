// Rails 6.1's cookie session store (ActionDispatch::Session::CookieStore)
// through the encrypted cookie jar, with the JSON cookie serializer. As
// Rails writes it (use_authenticated_cookie_encryption, 5.2+ defaults):
//
//   cookie     = rack-escape(message)      ; Rack::Utils.escape: + / = as %XX
//   message    = b64(ciphertext) "--" b64(iv) "--" b64(tag)
//   b64        = Base64.strict_encode64 (standard alphabet, '=' padded)
//   iv         = 12OCTET                   ; random
//   tag        = 16OCTET
//   ciphertext = AES-256-GCM(K, iv, plaintext), no associated data
//   K          = PBKDF2-HMAC-SHA1(secret_key_base,
//                                 "authenticated encrypted cookie", 1000, 32)
//   plaintext  = envelope / data           ; data alone before 6.0 (or with
//                                          ; use_cookies_with_metadata off)
//   envelope   = {"_rails":{"message":"<b64(data)>","exp":<exp>,
//                 "pur":"cookie.<cookie name>"}}
//   exp        = null / "YYYY-MM-DDThh:mm:ss.mmmZ"   ; iso8601(3), UTC
//   data       = ActiveSupport::JSON.encode(session hash)
//
// and the AES-256-CBC cookie of Rails before 5.2, which 6.1 still reads:
//
//   message    = b64(inner) "--" hex(HMAC-SHA1(Ks, b64(inner)))
//   inner      = b64(ciphertext) "--" b64(iv)          ; iv 16 octets
//   ciphertext = AES-256-CBC(Ke, iv, PKCS#7(plaintext))
//   Ke = PBKDF2(secret_key_base, "encrypted cookie", 1000, 32)
//   Ks = PBKDF2(secret_key_base, "signed encrypted cookie", 1000, 64)
//
// Read as Rails reads it: Rack unescapes the value (kept raw when a '%'
// is malformed); String#split("--") drops trailing empty fields and the
// parts after the third (GCM) or second (CBC) are ignored, though each
// must still be strict base64 (GCM); the envelope is opened first for the
// purpose "cookie.<name>", then for no purpose, so a cookie without
// metadata, or with "pur" null, is read too; exp is Time.iso8601 and the
// cookie expires when now >= exp. Marshal payloads (cookies_serializer
// :marshal or :hybrid) are refused: reading them means instantiating
// arbitrary Ruby objects.
#include <cmath>
#include <limits>

#include "import/formats.h"
#include "import/ruby_compat.h"
#include "sessiond/random.h"
#include "sessiond/session.h"

namespace sessiond::legacy_detail {
namespace {

constexpr int kIterations = 1000;  // Rails::Application#key_generator

bool RubyBlank(std::string_view s) {
  // String#blank?: /\A[[:space:]]*\z/ (ASCII whitespace suffices: the
  // value must also be valid UTF-8 base64 text to verify at all).
  for (char c : s) {
    if (!(c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
          c == '\r')) {
      return false;
    }
  }
  return true;
}

struct Metadata {
  std::string message;
  // kJulian: a number, which ActiveSupport's Time#<=> compares with the
  // time's Astronomical Julian Day (to_datetime <=> other).
  enum class Expiry { kNone, kTime, kJulian, kNotComparable } expiry =
      Expiry::kNone;
  RubyTime exp;
  JsonValue julian;
  std::optional<std::string> purpose;  // nullopt: never equal to any
  bool envelope = false;
};

// ActiveSupport::Messages::Metadata.extract_metadata and #initialize.
Result<Metadata> ExtractMetadata(std::string plaintext) {
  Metadata m;
  Result<JsonValue> doc = ParseJson(plaintext, JsonDialect::kRuby);
  const JsonValue* rails =
      doc.ok() && doc->is_object() ? doc->Find("_rails") : nullptr;
  if (rails == nullptr) {
    m.message = std::move(plaintext);
    m.purpose = "";
    return m;
  }
  m.envelope = true;
  if (!rails->is_object()) {
    return Status(Code::kUnknownVersion, "\"_rails\" is not an object");
  }
  const JsonValue* message = rails->Find("message");
  if (message == nullptr || !message->is_string()) {
    return Status(Code::kUnknownVersion, "\"_rails\" message is not a string");
  }
  std::optional<std::string> decoded = RubyStrictDecode64(message->string_value());
  if (!decoded) {
    return Status(Code::kUnknownVersion, "\"_rails\" message is not base64");
  }
  m.message = std::move(*decoded);
  const JsonValue* exp = rails->Find("exp");
  if (exp != nullptr && exp->is_string()) {
    std::optional<RubyTime> t = RubyTimeIso8601(exp->string_value());
    if (!t) return Status(Code::kUnknownVersion, "\"_rails\" exp is not iso8601");
    m.expiry = Metadata::Expiry::kTime;
    m.exp = *t;
  } else if (exp != nullptr && exp->is_number()) {
    m.expiry = Metadata::Expiry::kJulian;
    m.julian = *exp;
  } else if (exp != nullptr && !exp->is_null()) {
    m.expiry = Metadata::Expiry::kNotComparable;  // Time < x raises
  }
  const JsonValue* pur = rails->Find("pur");
  if (pur == nullptr || pur->is_null()) {
    m.purpose = "";  // nil.to_s
  } else if (pur->is_string()) {
    m.purpose = pur->string_value();
  }  // else: to_s of a number, array, ... is never "" nor "cookie.<name>"
  return m;
}

// Unix microseconds of the instant whose Astronomical Julian Day is `ajd`
// (AJD 2440587.5 is the Unix epoch), saturated to the int64 range.
int64_t JulianDayMicros(const JsonValue& ajd) {
  constexpr long double kEpoch = 2440587.5L;
  long double us = (static_cast<long double>(ajd.AsDouble()) - kEpoch) *
                   86400.0L * 1e6L;
  if (ajd.is_integer()) {
    // Exactly: ajd * 86400e6 - 2440587.5 * 86400e6, when it fits.
    std::optional<int64_t> i = ajd.AsInt64();
    if (i && *i > -100'000'000 && *i < 100'000'000) {
      return *i * 86'400'000'000LL - 210'866'760'000'000'000LL;
    }
  }
  if (!(us < 9.2e18L)) return std::numeric_limits<int64_t>::max();
  if (!(us > -9.2e18L)) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(std::ceil(us));
}

// Metadata#fresh?: Time.now.utc < expires_at.
bool Fresh(const Metadata& m, int64_t now_micros) {
  switch (m.expiry) {
    case Metadata::Expiry::kTime:
      return RubyTimeAfter(m.exp, now_micros);
    case Metadata::Expiry::kJulian:
      return now_micros < JulianDayMicros(m.julian);
    default:
      return true;
  }
}

std::optional<int64_t> ExpiresAt(const Metadata& m) {
  switch (m.expiry) {
    case Metadata::Expiry::kTime:
      return SaturatingAdd(
          m.exp.seconds,
          m.exp.fraction.find_first_not_of('0') == std::string::npos ? 0 : 1);
    case Metadata::Expiry::kJulian: {
      int64_t us = JulianDayMicros(m.julian);
      return us / 1'000'000 + (us % 1'000'000 > 0 ? 1 : 0);
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

RailsCookieFormat::RailsCookieFormat(const RailsCookieOptions& options)
    : purpose_("cookie." + options.cookie_name),
      escaped_(options.value_is_escaped),
      gcm_render_(options.use_authenticated_cookie_encryption),
      read_cbc_(!options.use_authenticated_cookie_encryption ||
                (!options.encrypted_cookie_salt.empty() &&
                 !options.encrypted_signed_cookie_salt.empty())),
      metadata_(options.use_cookies_with_metadata) {
  for (const auto& base : options.secret_key_bases) {
    keys_.push_back(Keys{
        Pbkdf2HmacSha1(base, options.authenticated_encrypted_cookie_salt,
                       kIterations, 32),
        Pbkdf2HmacSha1(base, options.encrypted_cookie_salt, kIterations, 32),
        Pbkdf2HmacSha1(base, options.encrypted_signed_cookie_salt, kIterations,
                       64)});
  }
}

// MessageEncryptor#_decrypt for aes-256-gcm; index: which key opened it.
Result<std::string> RailsCookieFormat::OpenGcm(std::string_view message,
                                               size_t& index) const {
  std::vector<std::string> parts;
  for (std::string_view p : RubySplit(message, "--")) {
    std::optional<std::string> d = RubyStrictDecode64(p);
    if (!d) return Status(Code::kBadEncoding, "a part is not strict base64");
    parts.push_back(std::move(*d));
  }
  if (parts.size() < 3 || parts[2].size() != 16) {
    return Status(Code::kTruncated, "no 16-byte auth tag");
  }
  if (parts[1].size() != 12) {  // Cipher#iv= wants iv_len bytes
    return Status(Code::kBadEncoding, "iv is not 12 bytes");
  }
  if (parts[0].empty()) {  // Cipher#update: "data must not be empty"
    return Status(Code::kTruncated, "empty ciphertext");
  }
  for (size_t i = 0; i < keys_.size(); ++i) {
    std::optional<std::string> plain =
        AesGcmOpen(keys_[i].gcm, parts[1], parts[0], parts[2]);
    if (plain) {
      index = i;
      return std::move(*plain);
    }
  }
  return Status(Code::kBadMac, "auth tag does not verify");
}

// MessageVerifier#verified (HMAC-SHA1, hex) then #_decrypt for aes-256-cbc.
Result<std::string> RailsCookieFormat::OpenCbc(std::string_view message,
                                               int64_t now_micros,
                                               size_t& index) const {
  if (!IsUtf8(message) || RubyBlank(message)) {
    return Status(Code::kBadEncoding, "not a signed message");
  }
  std::vector<std::string_view> parts = RubySplit(message, "--");
  if (parts.size() < 2 || RubyBlank(parts[0]) || RubyBlank(parts[1])) {
    return Status(Code::kTruncated, "no signature");
  }
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (!ConstantTimeEqual(parts[1],
                           HexLower(Hmac(Digest::kSha1, keys_[i].cbc_sign,
                                         parts[0])))) {
      continue;
    }
    std::optional<std::string> data = RubyStrictDecode64(parts[0]);
    if (!data) return Status(Code::kBadEncoding, "signed data is not base64");
    // The verifier's own Metadata.verify(data, nil).
    Result<Metadata> outer = ExtractMetadata(std::move(*data));
    if (!outer.ok()) return outer.status();
    if (outer->purpose != "") {
      return Status(Code::kWrongPurpose, "signed for another purpose");
    }
    if (outer->expiry == Metadata::Expiry::kNotComparable) {
      return Status(Code::kUnknownVersion, "\"_rails\" exp is not a time");
    }
    if (!Fresh(*outer, now_micros)) {
      return Status(Code::kExpired, "past its \"_rails\" exp");
    }
    std::vector<std::string> inner;
    for (std::string_view p : RubySplit(outer->message, "--")) {
      std::optional<std::string> d = RubyStrictDecode64(p);
      if (!d) return Status(Code::kBadEncoding, "a part is not strict base64");
      inner.push_back(std::move(*d));
    }
    if (inner.size() < 2 || inner[1].size() != 16) {
      return Status(Code::kBadEncoding, "iv is not 16 bytes");
    }
    if (inner[0].empty()) return Status(Code::kTruncated, "empty ciphertext");
    std::optional<std::string> plain =
        AesCbcDecrypt(keys_[i].cbc, inner[1], inner[0]);
    if (!plain) return Status(Code::kBadMac, "bad padding");
    index = i;
    return std::move(*plain);
  }
  return Status(Code::kBadMac, "signature does not match");
}

Result<LegacySession> RailsCookieFormat::Unwrap(std::string plaintext,
                                                int64_t now_micros,
                                                LegacySession session) const {
  Result<Metadata> m = ExtractMetadata(std::move(plaintext));
  if (!m.ok()) return m.status();
  // AbstractCookieJar#[]: parse with purpose "cookie.<name>", then without.
  if (m->purpose != purpose_ && m->purpose != "") {
    return Status(Code::kWrongPurpose, "encrypted for another purpose");
  }
  if (m->expiry == Metadata::Expiry::kNotComparable) {
    return Status(Code::kUnknownVersion, "\"_rails\" exp is not a time");
  }
  if (!Fresh(*m, now_micros)) {
    return Status(Code::kExpired, "past its \"_rails\" exp");
  }
  if (m->message.size() >= 2 && m->message[0] == '\x04' &&
      m->message[1] == '\x08') {
    return Status(Code::kUnknownVersion,
                  "a Marshal payload (cookies_serializer :marshal/:hybrid): "
                  "not read, see docs/migration.md");
  }
  // JsonSerializer.load: ActiveSupport::JSON.decode.
  Result<JsonValue> data = ParseJson(m->message, JsonDialect::kRuby);
  if (!data.ok()) return Status(Code::kUnknownVersion, data.status().message());
  // CookieStore: data.stringify_keys! needs a Hash; nil is no session.
  if (!data->is_object()) {
    return Status(Code::kUnknownVersion, "the session is not a hash");
  }
  session.data = std::move(*data);
  session.legacy = session.legacy || !m->envelope;
  session.expires_at = ExpiresAt(*m);
  return session;
}

Result<LegacySession> RailsCookieFormat::Verify(std::string_view cookie,
                                                int64_t now_micros) const {
  if (cookie.size() > kMaxLegacyCookieBytes) {
    return Refuse(Code::kTooLarge, "cookie over 8192 bytes");
  }
  const std::string message =
      escaped_ ? RackUnescapeCookie(cookie) : std::string(cookie);
  if (message.empty()) return Refuse(Code::kTruncated, "empty cookie");
  LegacySession session;
  session.format = LegacyFormat::kRails;
  size_t index = 0;
  Result<std::string> gcm = OpenGcm(message, index);
  if (gcm.ok()) {
    session.secret_index = index;
    // The authenticated bytes: ciphertext, iv and tag as decoded.
    std::vector<std::string_view> parts = RubySplit(message, "--");
    for (size_t i = 0; i < 3; ++i) {
      session.authenticated += *RubyStrictDecode64(parts[i]);
      session.authenticated.push_back('\0');
    }
    return Unwrap(std::move(*gcm), now_micros, std::move(session));
  }
  if (read_cbc_) {
    Result<std::string> cbc = OpenCbc(message, now_micros, index);
    if (cbc.ok()) {
      session.secret_index = index;
      session.legacy = true;
      session.authenticated = std::string(RubySplit(message, "--")[0]);
      return Unwrap(std::move(*cbc), now_micros, std::move(session));
    }
    // Report the CBC failure for a value shaped like a CBC cookie.
    if (RubySplit(message, "--").size() == 2) return cbc.status();
  }
  return gcm.status();
}

Result<std::string> RailsCookieFormat::Render(
    const LegacyRenderInput& input) const {
  return RenderWithIv(input, RandomString(gcm_render_ ? 12 : 16));
}

Result<std::string> RailsCookieFormat::RenderWithIv(
    const LegacyRenderInput& input, std::string_view iv) const {
  if (!input.data.is_object()) {
    return Status(Code::kInvalidArgument, "session data must be an object");
  }
  std::string plaintext = WriteJson(input.data, JsonStyle::kRails);
  // Messages::Metadata.wrap: an envelope when there is a purpose or expiry.
  if (metadata_ || input.expires_at_micros) {
    JsonValue rails = JsonValue::Object();
    rails.Set("message", JsonValue::String(RubyStrictEncode64(plaintext)));
    rails.Set("exp", input.expires_at_micros
                         ? JsonValue::String(
                               RubyIso8601Millis(*input.expires_at_micros))
                         : JsonValue());
    rails.Set("pur", metadata_ ? JsonValue::String(purpose_) : JsonValue());
    JsonValue envelope = JsonValue::Object();
    envelope.Set("_rails", std::move(rails));
    plaintext = WriteJson(envelope, JsonStyle::kRails);
  }
  std::string message;
  if (gcm_render_) {
    Result<Sealed> sealed = AesGcmSeal(keys_.front().gcm, iv, plaintext);
    if (!sealed.ok()) return sealed.status();
    message = RubyStrictEncode64(sealed->ciphertext) + "--" +
              RubyStrictEncode64(iv) + "--" + RubyStrictEncode64(sealed->tag);
  } else {
    Result<std::string> ct = AesCbcEncrypt(keys_.front().cbc, iv, plaintext);
    if (!ct.ok()) return ct.status();
    std::string data = RubyStrictEncode64(RubyStrictEncode64(*ct) + "--" +
                                          RubyStrictEncode64(iv));
    message = data + "--" +
              HexLower(Hmac(Digest::kSha1, keys_.front().cbc_sign, data));
  }
  if (message.size() > 4096) {  // ActionDispatch::Cookies::CookieOverflow
    return Status(Code::kTooLarge, "cookie over 4096 bytes");
  }
  return escaped_ ? RackEscape(message) : message;
}

}  // namespace sessiond::legacy_detail
