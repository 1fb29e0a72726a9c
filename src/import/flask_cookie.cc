// Flask 2.2's default session cookie: itsdangerous 2.1 URLSafeTimedSerializer
// (salt "cookie-session", key derivation "hmac", SHA-1) over Flask's
// TaggedJSONSerializer. The grammar, as Flask writes it (ABNF):
//
//   cookie    = payload "." timestamp "." signature
//   payload   = b64 / "." b64          ; b64(json) or "." b64(zlib(json)),
//                                       ; compressed when 2+ bytes shorter
//   timestamp = b64                    ; Unix seconds, big-endian, leading
//                                       ; zero bytes stripped
//   signature = 27b64char              ; b64(HMAC-SHA1(K, payload "." timestamp))
//   K         = HMAC-SHA1(secret_key, "cookie-session")
//   b64       = *b64char               ; base64url without padding
//   b64char   = ALPHA / DIGIT / "-" / "_"
//   json      = compact JSON, keys sorted, ASCII only (\uxxxx), values
//               tagged: {" t": [...]} tuple, {" b": "<std base64>"} bytes,
//               {" m": "..."} Markup, {" u": "<32 hex>"} UUID,
//               {" d": "<HTTP date>"} datetime, {" di": {"<k>__": v}} a
//               one-key dict whose key is itself a tag.
//
// What itsdangerous reads is looser than that, and Verify follows it: the
// signature and timestamp are decoded by CPython's non-strict base64 (pad
// added from the length, characters outside the alphabet skipped, '+' and
// '/' accepted, decoding stops at a complete pad); the timestamp may have
// leading zero bytes; a timestamp in the future is refused (age < 0).
#include <cstring>

#include "import/formats.h"
#include "import/python_compat.h"
#include "sessiond/session.h"

namespace sessiond::legacy_detail {
namespace {

constexpr std::string_view kTags[] = {" di", " t", " b", " m", " u", " d"};

bool IsTag(std::string_view key) {
  for (auto t : kTags) {
    if (key == t) return true;
  }
  return false;
}

// itsdangerous.encoding.base64_decode on bytes: '=' padding to a multiple
// of four from the length, then urlsafe_b64decode (non-strict).
std::optional<std::string> ItsdangerousB64Decode(std::string_view s) {
  std::string padded(s);
  padded.append((4 - s.size() % 4) % 4, '=');
  return PythonB64Decode(padded, /*urlsafe=*/true);
}

// ---- TaggedJSONSerializer.loads ---------------------------------------------

// The Python value a JSON value has become after Flask's object_hook, as
// far as another tag's to_python can tell: its kind, its plain JSON form
// (what sessiond stores), and the raw bytes of a bytes value.
struct PyValue {
  enum class Kind { kJson, kTuple, kBytes, kMarkup, kUuid, kDatetime, kDiDict };
  Kind kind = Kind::kJson;
  JsonValue plain;
  std::string bytes;
};

Status Unsupported(std::string what) {
  return Status(Code::kUnknownVersion, "Flask payload: " + std::move(what));
}

bool IsStr(const PyValue& v) {
  return (v.kind == PyValue::Kind::kJson && v.plain.is_string()) ||
         v.kind == PyValue::Kind::kMarkup;
}

bool IsDict(const PyValue& v) {
  return (v.kind == PyValue::Kind::kJson && v.plain.is_object()) ||
         v.kind == PyValue::Kind::kDiDict;
}

// Python truthiness, for parse_date's "if not data: return None".
bool Falsy(const PyValue& v) {
  const JsonValue& p = v.plain;
  switch (v.kind) {
    case PyValue::Kind::kBytes:
      return v.bytes.empty();
    case PyValue::Kind::kTuple:
      return p.array().empty();
    case PyValue::Kind::kDiDict:
      return false;  // one key
    case PyValue::Kind::kUuid:
    case PyValue::Kind::kDatetime:
      return false;
    default:
      break;
  }
  switch (p.kind()) {
    case JsonValue::Kind::kNull:
      return true;
    case JsonValue::Kind::kBool:
      return !p.bool_value();
    case JsonValue::Kind::kNumber:
      return p.number_text() != "NaN" && p.AsDouble() == 0.0;
    case JsonValue::Kind::kString:
      return p.string_value().empty();
    case JsonValue::Kind::kArray:
      return p.array().empty();
    case JsonValue::Kind::kObject:
      return p.members().empty();
  }
  return false;
}

// One tag's to_python (flask/json/tag.py) on an already untagged value.
Result<PyValue> ToPython(std::string_view tag, PyValue v) {
  PyValue out;
  if (tag == " t") {  // tuple(value)
    out.kind = PyValue::Kind::kTuple;
    out.plain = JsonValue::Array();
    if ((v.kind == PyValue::Kind::kJson && v.plain.is_array()) ||
        v.kind == PyValue::Kind::kTuple) {
      out.plain = std::move(v.plain);
    } else if (IsStr(v)) {
      for (auto& c : PythonChars(v.plain.string_value())) {
        out.plain.Push(JsonValue::String(std::move(c)));
      }
    } else if (IsDict(v)) {
      for (auto& m : v.plain.members()) out.plain.Push(JsonValue::String(m.key));
    } else if (v.kind == PyValue::Kind::kBytes) {
      for (unsigned char c : v.bytes) out.plain.Push(JsonValue::Integer(c));
    } else {
      return Unsupported("' t' of a value tuple() refuses");
    }
    return out;
  }
  if (tag == " b") {  // base64.b64decode(value)
    std::string text;
    if (IsStr(v)) {
      text = v.plain.string_value();
      for (unsigned char c : text) {
        if (c >= 0x80) return Unsupported("' b' of non-ASCII text");
      }
    } else if (v.kind == PyValue::Kind::kBytes) {
      text = v.bytes;
    } else {
      return Unsupported("' b' of a value b64decode() refuses");
    }
    std::optional<std::string> bytes = PythonB64Decode(text, /*urlsafe=*/false);
    if (!bytes) return Unsupported("' b' that is not base64");
    out.kind = PyValue::Kind::kBytes;
    out.bytes = std::move(*bytes);
    out.plain = JsonValue::String(
        PythonB64Encode(out.bytes, /*urlsafe=*/false, /*strip=*/false));
    return out;
  }
  if (tag == " m") {  // Markup(value): str(value) unless it is Markup
    out.kind = PyValue::Kind::kMarkup;
    if (IsStr(v) || v.kind == PyValue::Kind::kUuid) {
      out.plain = JsonValue::String(v.plain.string_value());
      return out;
    }
    if (v.kind != PyValue::Kind::kJson) {
      return Unsupported("' m' of a bytes, tuple or datetime (not supported)");
    }
    const JsonValue& p = v.plain;
    std::string text;
    if (p.is_null()) {
      text = "None";
    } else if (p.is_bool()) {
      text = p.bool_value() ? "True" : "False";
    } else if (p.is_number() && p.is_integer()) {
      text = p.number_text() == "-0" ? "0" : p.number_text();  // str(int)
    } else if (p.is_number()) {
      text = PythonFloatRepr(p.AsDouble());  // str(float) is repr(float)
    } else {
      return Unsupported("' m' of a list or dict (its Python repr: not supported)");
    }
    out.plain = JsonValue::String(std::move(text));
    return out;
  }
  if (tag == " u") {  // uuid.UUID(value)
    if (!IsStr(v)) return Unsupported("' u' of a non-string");
    std::optional<std::string> u = PythonUuid(v.plain.string_value());
    if (!u) return Unsupported("' u' that uuid.UUID() refuses");
    out.kind = PyValue::Kind::kUuid;
    out.plain = JsonValue::String(std::move(*u));
    return out;
  }
  if (tag == " d") {  // werkzeug.http.parse_date(value)
    if (Falsy(v) || v.kind == PyValue::Kind::kBytes) {
      return out;  // parse_date gives None
    }
    if (!IsStr(v)) return Unsupported("' d' of a value parse_date() cannot read");
    Result<std::optional<std::string>> date =
        PythonHttpDate(v.plain.string_value());
    if (!date.ok()) return date.status();
    if (!date->has_value()) return out;  // None
    out.kind = PyValue::Kind::kDatetime;
    out.plain = JsonValue::String(std::move(**date));
    return out;
  }
  // " di": {key[:-2]: value[key]} of the first key.
  if (!IsDict(v)) return Unsupported("' di' of a non-dict");
  if (v.plain.members().empty()) return Unsupported("' di' of an empty dict");
  JsonMember& first = v.plain.members().front();
  std::vector<std::string> chars = PythonChars(first.key);
  std::string key;
  for (size_t i = 0; i + 2 < chars.size(); ++i) key += chars[i];
  out.kind = PyValue::Kind::kDiDict;
  out.plain = JsonValue::Object();
  out.plain.Set(std::move(key), std::move(first.value));
  return out;
}

// json.loads(..., object_hook=untag): the hook runs on every dict, inner
// ones first, and its result is never looked at by the hook again.
Result<PyValue> Untag(const JsonValue& v) {
  PyValue out;
  if (v.is_array()) {
    out.plain = JsonValue::Array();
    for (const auto& item : v.array()) {
      Result<PyValue> u = Untag(item);
      if (!u.ok()) return u.status();
      out.plain.Push(std::move(u->plain));
    }
    return out;
  }
  if (!v.is_object()) {
    out.plain = v;
    return out;
  }
  if (v.members().size() == 1 && IsTag(v.members()[0].key)) {
    Result<PyValue> inner = Untag(v.members()[0].value);
    if (!inner.ok()) return inner.status();
    return ToPython(v.members()[0].key, std::move(*inner));
  }
  out.plain = JsonValue::Object();
  for (const auto& m : v.members()) {
    Result<PyValue> u = Untag(m.value);
    if (!u.ok()) return u.status();
    out.plain.Set(m.key, std::move(u->plain));
  }
  return out;
}

// TaggedJSONSerializer.tag on plain JSON (dicts, lists, scalars): only a
// one-key dict whose key is a tag name needs the " di" escape.
JsonValue Tag(const JsonValue& v) {
  if (v.is_array()) {
    JsonValue out = JsonValue::Array();
    for (const auto& item : v.array()) out.Push(Tag(item));
    return out;
  }
  if (!v.is_object()) return v;
  if (v.members().size() == 1 && IsTag(v.members()[0].key)) {
    JsonValue inner = JsonValue::Object();
    inner.Set(v.members()[0].key + "__", Tag(v.members()[0].value));
    JsonValue out = JsonValue::Object();
    out.Set(" di", std::move(inner));
    return out;
  }
  JsonValue out = JsonValue::Object();
  for (const auto& m : v.members()) out.Set(m.key, Tag(m.value));
  return out;
}

// One item of dict(iterable): an iterable of exactly two items, the first
// of which sessiond can use as a key (a str). nullopt where dict() raises,
// or where the key is not a string (Python would keep it; sessiond cannot).
std::optional<JsonMember> PairOf(const PyValue& p) {
  std::vector<JsonValue> items;
  if ((p.kind == PyValue::Kind::kJson && p.plain.is_array()) ||
      p.kind == PyValue::Kind::kTuple) {
    items = p.plain.array();
  } else if (IsStr(p)) {
    for (auto& c : PythonChars(p.plain.string_value())) {
      items.push_back(JsonValue::String(std::move(c)));
    }
  } else if (IsDict(p)) {
    for (const auto& m : p.plain.members()) {
      items.push_back(JsonValue::String(m.key));
    }
  } else {
    return std::nullopt;  // bytes give int keys; the rest is not iterable
  }
  if (items.size() != 2 || !items[0].is_string()) return std::nullopt;
  return JsonMember{items[0].string_value(), std::move(items[1])};
}

// SecureCookieSession(data): CallbackDict does dict.__init__(initial or ()),
// so a falsy value is an empty session and anything else goes to dict().
Result<JsonValue> SessionDict(const JsonValue& doc, PyValue top) {
  if (IsDict(top)) return std::move(top.plain);
  if (Falsy(top)) return JsonValue::Object();
  const std::vector<JsonValue>* items = nullptr;
  if (top.kind == PyValue::Kind::kJson && top.plain.is_array()) {
    items = &doc.array();
  } else if (top.kind == PyValue::Kind::kTuple) {
    const JsonValue& inner = doc.members()[0].value;  // {" t": [...]}
    if (inner.is_array()) items = &inner.array();
  }
  if (items == nullptr) return Unsupported("the session is not a dict");
  JsonValue out = JsonValue::Object();
  for (const JsonValue& item : *items) {
    Result<PyValue> u = Untag(item);
    if (!u.ok()) return u.status();
    std::optional<JsonMember> pair = PairOf(*u);
    if (!pair) return Unsupported("the session is not a dict of string keys");
    out.Set(std::move(pair->key), std::move(pair->value));
  }
  return out;
}

std::string IntToBytes(int64_t v) {
  // itsdangerous int_to_bytes: struct.pack(">Q", v).lstrip(b"\x00")
  std::string out;
  uint64_t u = static_cast<uint64_t>(v);
  for (int shift = 56; shift >= 0; shift -= 8) {
    char c = static_cast<char>((u >> shift) & 0xFF);
    if (out.empty() && c == 0) continue;
    out.push_back(c);
  }
  return out;
}

}  // namespace

FlaskCookieFormat::FlaskCookieFormat(const FlaskCookieOptions& options)
    : max_age_(options.max_age_seconds) {
  for (const auto& secret : options.secret_keys) {
    // Signer.derive_key, key_derivation "hmac": HMAC(secret, salt).
    keys_.push_back(Hmac(Digest::kSha1, secret, options.salt));
  }
}

Result<LegacySession> FlaskCookieFormat::Verify(std::string_view cookie,
                                                int64_t now_micros) const {
  if (cookie.size() > kMaxLegacyCookieBytes) {
    return Refuse(Code::kTooLarge, "cookie over 8192 bytes");
  }
  // Werkzeug decodes the Cookie header as UTF-8 with errors="replace";
  // itsdangerous encodes the str back to UTF-8.
  const std::string s = PythonUtf8Replace(cookie);
  if (s.empty()) return Refuse(Code::kTruncated, "empty cookie");
  // Signer.unsign
  size_t dot = s.rfind('.');
  if (dot == std::string::npos) return Refuse(Code::kBadEncoding, "no '.'");
  std::string_view value = std::string_view(s).substr(0, dot);
  std::string_view sig_text = std::string_view(s).substr(dot + 1);
  std::optional<std::string> sig = ItsdangerousB64Decode(sig_text);
  if (!sig) return Refuse(Code::kBadEncoding, "signature is not base64");
  LegacySession session;
  session.format = LegacyFormat::kFlask;
  bool verified = false;
  for (size_t i = 0; i < keys_.size() && !verified; ++i) {
    if (ConstantTimeEqual(*sig, Hmac(Digest::kSha1, keys_[i], value))) {
      verified = true;
      session.secret_index = i;
    }
  }
  if (!verified) {
    return sig->size() < 20 ? Refuse(Code::kTruncated, "signature too short")
                            : Refuse(Code::kBadMac, "signature does not match");
  }
  // TimestampSigner.unsign
  size_t tdot = value.rfind('.');
  if (tdot == std::string_view::npos) {
    return Refuse(Code::kBadEncoding, "timestamp missing");
  }
  std::optional<std::string> ts_bytes =
      ItsdangerousB64Decode(value.substr(tdot + 1));
  if (!ts_bytes || ts_bytes->size() > 8) {  // bytes_to_int: ">Q" of rjust(8)
    return Refuse(Code::kBadEncoding, "malformed timestamp");
  }
  uint64_t ts = 0;
  for (unsigned char c : *ts_bytes) ts = (ts << 8) | c;
  // age = int(time.time()) - ts; refused when > max_age or < 0. Python ints
  // do not overflow; Int128 holds every value here.
  const Int128 age =
      static_cast<Int128>(FloorSeconds(now_micros)) - static_cast<Int128>(ts);
  if (age > max_age_) return Refuse(Code::kExpired, "older than max_age");
  if (age < 0) return Refuse(Code::kNotYetValid, "signed in the future");
  // URLSafeSerializerMixin.load_payload
  std::string_view payload = value.substr(0, tdot);
  bool compressed = !payload.empty() && payload[0] == '.';
  if (compressed) payload.remove_prefix(1);
  std::optional<std::string> json = ItsdangerousB64Decode(payload);
  if (!json) return Refuse(Code::kUnknownVersion, "payload is not base64");
  if (compressed) {
    Result<std::string> inflated =
        PythonZlibDecompress(*json, kMaxLegacyPayloadBytes);
    if (!inflated.ok()) {
      return inflated.code() == Code::kTooLarge
                 ? inflated.status()
                 : Refuse(Code::kUnknownVersion, inflated.status().message());
    }
    json = std::move(*inflated);
  }
  // Serializer.load_payload: payload.decode("utf-8") (strict), then
  // json.loads of the str: a BOM or a surrogate is refused there.
  if (!IsUtf8(*json)) return Unsupported("payload is not UTF-8");
  Result<JsonValue> doc = ParseJson(*json, JsonDialect::kPython);
  if (!doc.ok()) return Unsupported(doc.status().message());
  Result<PyValue> top = Untag(*doc);
  if (!top.ok()) return top.status();
  Result<JsonValue> data = SessionDict(*doc, std::move(*top));
  if (!data.ok()) return data.status();
  session.data = std::move(*data);
  session.signed_at = static_cast<int64_t>(ts);
  session.expires_at =
      SaturatingAdd(static_cast<int64_t>(ts), SaturatingAdd(max_age_, 1));
  session.authenticated = std::string(value);
  return session;
}

Result<std::string> FlaskCookieFormat::Render(
    const LegacyRenderInput& input) const {
  if (!input.data.is_object()) {
    return Status(Code::kInvalidArgument, "session data must be an object");
  }
  // TaggedJSONSerializer.dumps through Flask's DefaultJSONProvider:
  // separators (",", ":"), ensure_ascii, sort_keys.
  std::string json = WriteJson(Tag(input.data), JsonStyle::kPythonCompact,
                               /*sort_keys=*/true);
  std::string payload;
  std::string compressed = PythonZlibCompress(json);
  if (compressed.size() + 1 < json.size()) {
    payload = "." + PythonB64Encode(compressed, true, true);
  } else {
    payload = PythonB64Encode(json, true, true);
  }
  std::string value = payload + "." +
                      PythonB64Encode(IntToBytes(FloorSeconds(input.now_micros)),
                                      true, true);
  std::string cookie =
      value + "." +
      PythonB64Encode(Hmac(Digest::kSha1, keys_.front(), value), true, true);
  if (cookie.size() > 4096) {
    return Status(Code::kTooLarge, "cookie over 4096 bytes");
  }
  return cookie;
}

}  // namespace sessiond::legacy_detail
