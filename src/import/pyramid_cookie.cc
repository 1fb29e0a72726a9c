// Pyramid 2.0's SignedCookieSessionFactory: WebOb 1.8's SignedSerializer
// (HMAC over salt + secret, SHA-512 by default) around Pyramid 2.0's default
// JSONSerializer (webob.cookies.JSONSerializer). As Pyramid writes it:
//
//   cookie  = *b64char            ; base64url, '=' padding stripped, of:
//   bstruct = mac payload
//   mac     = 64OCTET             ; HMAC-SHA512(key = salt secret, payload)
//                                 ; (hashalg decides the length: 20/32/64)
//   payload = json.dumps([accessed, created, state]) in UTF-8: separators
//             ", " and ": ", ASCII only; accessed is int(time.time()) of the
//             last access, created a float, state the session dict.
//
// Read as WebOb and Pyramid read it: the cookie str is Latin-1 encoded
// (a character above U+00FF is refused), padded from its length and
// decoded by CPython's non-strict urlsafe base64; the payload must be
// strict UTF-8 JSON; the triple is unpacked (a list, or any 3-item iterable
// in Python) and renewed/created go through float(); the session has timed
// out when time.time() - renewed > timeout. Nothing refuses a cookie from
// the future, nothing looks at created.
#include <cmath>

#include "import/formats.h"
#include "import/python_compat.h"
#include "sessiond/session.h"

namespace sessiond::legacy_detail {
namespace {

// webob.cookies.SignedSerializer: bytes_(salt) + bytes_(secret), Latin-1,
// or UTF-8 for both when either has a character Latin-1 cannot hold.
std::string SaltedSecret(std::string_view salt, std::string_view secret) {
  auto latin1 = [](std::string_view utf8, std::string& out) {
    if (!IsUtf8(utf8)) {  // not text: taken as the bytes themselves
      out = std::string(utf8);
      return true;
    }
    out.clear();
    for (const auto& ch : PythonChars(utf8)) {
      unsigned char c0 = static_cast<unsigned char>(ch[0]);
      if (ch.size() == 1) {
        out.push_back(ch[0]);
      } else if (ch.size() == 2 && c0 <= 0xC3) {
        out.push_back(static_cast<char>(((c0 & 0x1F) << 6) |
                                        (static_cast<unsigned char>(ch[1]) & 0x3F)));
      } else {
        return false;
      }
    }
    return true;
  };
  std::string a, b;
  if (latin1(salt, a) && latin1(secret, b)) return a + b;
  return std::string(salt) + std::string(secret);
}

// float(x) on a value json.loads made; nullopt where float() raises
// TypeError or ValueError (Pyramid then starts a new session), an error
// where it raises OverflowError (which Pyramid does not catch).
Result<std::optional<double>> PyFloat(const JsonValue& v) {
  switch (v.kind()) {
    case JsonValue::Kind::kBool:
      return std::optional<double>(v.bool_value() ? 1.0 : 0.0);
    case JsonValue::Kind::kNumber: {
      double d = v.AsDouble();
      if (v.is_integer() && std::isinf(d)) {
        return Status(Code::kUnknownVersion,
                      "an integer too large for float() (Pyramid answers 500)");
      }
      return std::optional<double>(d);
    }
    case JsonValue::Kind::kString:
      return PythonFloatFromString(v.string_value());
    default:
      return std::optional<double>();
  }
}

// dict(x) for a value json.loads made. Errors where dict() raises (Pyramid
// answers 500 there) and for keys that are not strings (which sessiond
// cannot hold).
Result<JsonValue> PythonDict(JsonValue x) {
  if (x.is_object()) return x;
  Status bad(Code::kUnknownVersion, "state is not a dict");
  JsonValue out = JsonValue::Object();
  if (x.is_string() && x.string_value().empty()) return out;
  if (!x.is_array()) return bad;
  for (auto& item : x.array()) {
    std::vector<JsonValue> pair;
    if (item.is_array()) {
      pair = std::move(item.array());
    } else if (item.is_string()) {
      for (auto& c : PythonChars(item.string_value())) {
        pair.push_back(JsonValue::String(std::move(c)));
      }
    } else if (item.is_object()) {
      for (auto& m : item.members()) pair.push_back(JsonValue::String(m.key));
    } else {
      return bad;
    }
    if (pair.size() != 2 || !pair[0].is_string()) return bad;
    out.Set(pair[0].string_value(), std::move(pair[1]));
  }
  return out;
}

}  // namespace

PyramidCookieFormat::PyramidCookieFormat(const PyramidCookieOptions& options,
                                         Digest digest)
    : digest_(digest), timeout_(options.timeout_seconds) {
  for (const auto& secret : options.secrets) {
    keys_.push_back(SaltedSecret(options.salt, secret));
  }
}

Result<LegacySession> PyramidCookieFormat::Verify(std::string_view cookie,
                                                  int64_t now_micros) const {
  if (cookie.size() > kMaxLegacyCookieBytes) {
    return Refuse(Code::kTooLarge, "cookie over 8192 bytes");
  }
  // WebOb decodes cookie values as strict UTF-8; Pyramid encodes the str
  // to Latin-1 (UnicodeEncodeError is a ValueError: a new session).
  if (!IsUtf8(cookie)) return Refuse(Code::kBadEncoding, "not UTF-8");
  std::string bstruct;
  for (const auto& ch : PythonChars(cookie)) {
    unsigned char c0 = static_cast<unsigned char>(ch[0]);
    if (ch.size() == 1) {
      bstruct.push_back(ch[0]);
    } else if (ch.size() == 2 && c0 <= 0xC3) {
      bstruct.push_back(static_cast<char>(
          ((c0 & 0x1F) << 6) | (static_cast<unsigned char>(ch[1]) & 0x3F)));
    } else {
      return Refuse(Code::kBadEncoding, "a character Latin-1 cannot hold");
    }
  }
  if (bstruct.empty()) return Refuse(Code::kTruncated, "empty cookie");
  // SignedSerializer.loads
  std::string padded = bstruct;
  padded.append((4 - bstruct.size() % 4) % 4, '=');
  std::optional<std::string> fstruct = PythonB64Decode(padded, true);
  if (!fstruct) return Refuse(Code::kBadEncoding, "badly formed base64");
  const size_t mac_size = DigestSize(digest_);
  std::string_view all = *fstruct;
  std::string_view mac = all.substr(0, std::min(mac_size, all.size()));
  std::string_view cstruct = all.substr(mac.size());
  LegacySession session;
  session.format = LegacyFormat::kPyramid;
  bool verified = false;
  for (size_t i = 0; i < keys_.size() && !verified; ++i) {
    if (ConstantTimeEqual(mac, Hmac(digest_, keys_[i], cstruct))) {
      verified = true;
      session.secret_index = i;
    }
  }
  if (!verified) {
    return all.size() < mac_size
               ? Refuse(Code::kTruncated, "shorter than the signature")
               : Refuse(Code::kBadMac, "invalid signature");
  }
  // JSONSerializer.loads: json.loads(bstruct.decode("utf-8")), strict.
  if (!IsUtf8(cstruct)) return Refuse(Code::kUnknownVersion, "payload not UTF-8");
  Result<JsonValue> value = ParseJson(cstruct, JsonDialect::kPython);
  if (!value.ok()) {
    return Refuse(Code::kUnknownVersion, value.status().message());
  }
  // rval, cval, sval = value: unpacking iterates; a 3-item list, a str of
  // three characters or a dict of three keys all unpack.
  std::vector<JsonValue> triple;
  if (value->is_array()) {
    triple = value->array();
  } else if (value->is_string()) {
    for (auto& c : PythonChars(value->string_value())) {
      triple.push_back(JsonValue::String(std::move(c)));
    }
  } else if (value->is_object()) {
    for (const auto& m : value->members()) {
      triple.push_back(JsonValue::String(m.key));
    }
  } else if (value->is_null()) {
    return Refuse(Code::kUnknownVersion, "payload is null");
  } else {
    return Refuse(Code::kUnknownVersion, "payload is not (accessed, created, state)");
  }
  if (triple.size() != 3) {
    return Refuse(Code::kUnknownVersion, "payload is not (accessed, created, state)");
  }
  Result<std::optional<double>> renewed = PyFloat(triple[0]);
  if (!renewed.ok()) return renewed.status();
  if (!renewed->has_value()) {
    return Refuse(Code::kUnknownVersion, "renewed time is not a number");
  }
  Result<std::optional<double>> created = PyFloat(triple[1]);
  if (!created.ok()) return created.status();
  if (!created->has_value()) {
    return Refuse(Code::kUnknownVersion, "created time is not a number");
  }
  const double r = **renewed;
  // if now - renewed > timeout: state = {} (a comparison with NaN is
  // false: such a session never times out, as in Pyramid).
  if (timeout_ && PythonTime(now_micros) - r > static_cast<double>(*timeout_)) {
    return Refuse(Code::kExpired, "timed out");
  }
  // dict.__init__(self, state): Pyramid writes a dict; dict() also takes
  // an iterable of pairs (and "" or [] as empty).
  Result<JsonValue> state = PythonDict(std::move(triple[2]));
  if (!state.ok()) return state.status();
  session.data = std::move(*state);
  session.signed_at = std::isfinite(r) ? ClampToInt64(std::floor(r)) : 0;
  session.created_at = **created;
  if (timeout_ && std::isfinite(r)) {
    session.expires_at =
        ClampToInt64(std::ceil(r + static_cast<double>(*timeout_)));
  }
  session.authenticated = std::string(cstruct);
  return session;
}

Result<std::string> PyramidCookieFormat::Render(
    const LegacyRenderInput& input) const {
  if (!input.data.is_object()) {
    return Status(Code::kInvalidArgument, "session data must be an object");
  }
  // serializer.dumps((self.accessed, self.created, dict(self))): accessed
  // is int(time.time()) after any access, created a float.
  JsonValue triple = JsonValue::Array();
  triple.Push(JsonValue::Integer(FloorSeconds(input.now_micros)));
  double created = input.created_at.value_or(PythonTime(input.now_micros));
  if (!std::isfinite(created)) {
    return Status(Code::kInvalidArgument, "created time is not finite");
  }
  triple.Push(JsonValue::Number(PythonFloatRepr(created)));
  triple.Push(input.data);
  std::string payload = WriteJson(triple, JsonStyle::kPythonDefault);
  std::string mac = Hmac(digest_, keys_.front(), payload);
  std::string cookie = PythonB64Encode(mac + payload, true, true);
  if (cookie.size() > 4064) {  // CookieSession._set_cookie's own limit
    return Status(Code::kTooLarge, "cookie over 4064 bytes");
  }
  return cookie;
}

}  // namespace sessiond::legacy_detail
