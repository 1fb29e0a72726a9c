// Legacy cookie sessions: the default cookie sessions of Flask 2.2, Pyramid
// 2.0, Django 3.2 and Rails 6.1 (the versions Debian 12 ships), verified
// exactly as those frameworks verify them, and rendered back into them.
// This is the library under the IMPORT and EXPORT verbs: phase 2 wires it
// into the server; nothing here does I/O. docs/migration.md has each format
// as a byte grammar and every leniency followed.
//
// Thread safety: a LegacyCookieFormat is immutable once made; Verify and
// Render may be called from any number of threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "import/json.h"
#include "sessiond/status.h"

namespace sessiond {

enum class LegacyFormat : uint8_t {
  kFlask = 1,    // flask.sessions.SecureCookieSessionInterface
  kPyramid = 2,  // pyramid.session.SignedCookieSessionFactory
  kDjango = 3,   // django.contrib.sessions.backends.signed_cookies
  kRails = 4,    // ActionDispatch::Session::CookieStore, encrypted jar
};
// "flask", "pyramid", "django", "rails".
std::string_view LegacyFormatName(LegacyFormat format);
std::optional<LegacyFormat> LegacyFormatFromName(std::string_view name);

// A cookie value longer than this is refused (TOO_LARGE) before any work:
// browsers keep at most 4096 bytes per cookie, so no framework ever sent
// one; the margin covers Rack's percent-encoding.
inline constexpr size_t kMaxLegacyCookieBytes = 8192;
// A compressed payload (Flask, Django) inflating past this is refused
// (TOO_LARGE), where the frameworks have no bound: far above any session
// sessiond will store (max_data_bytes), and it keeps a 4 KB cookie from
// costing megabytes.
inline constexpr size_t kMaxLegacyPayloadBytes = 1 << 20;

// What a verified old cookie holds.
struct LegacySession {
  LegacyFormat format = LegacyFormat::kFlask;
  // The session's data: a JSON object (key -> value) in the framework's own
  // order. Values are plain JSON; the framework-specific types are mapped
  // as docs/migration.md says (Flask: tuple -> array, bytes -> base64 text,
  // Markup -> string, UUID -> hyphenated string, datetime -> HTTP date).
  // Numbers keep the text the framework wrote (JsonValue::number_text).
  JsonValue data;
  // When the framework signed it, Unix seconds: Flask's and Django's
  // timestamp, Pyramid's "renewed" (accessed) time; 0 for Rails, whose
  // cookies carry none.
  int64_t signed_at = 0;
  // Pyramid only: the session's "created" time, Unix seconds.
  double created_at = 0;
  // The framework refuses the cookie by its own rule (max age, timeout,
  // the "_rails" expiry) from this Unix second on; nullopt when nothing in
  // the cookie ends it (Rails without expire_after, Pyramid timeout=None).
  // Keep the fingerprint (LegacyFingerprint) at least until then.
  std::optional<int64_t> expires_at;
  // The bytes the MAC or AEAD authenticates, in a canonical form: every
  // text of one cookie that the framework accepts (padding, percent-
  // encoding, Django's second signature, ...) gives the same bytes.
  std::string authenticated;
  // Which configured secret verified it (0: the first, the current one).
  size_t secret_index = 0;
  // Verified through a path the framework keeps for old cookies: Django's
  // SHA-1 signature, Rails' payload without metadata (before 6.0) or its
  // AES-256-CBC cookie (before 5.2). Worth a log line during a migration.
  bool legacy = false;
};

// What to put in a cookie rendered in the old format (the way back).
struct LegacyRenderInput {
  JsonValue data = JsonValue::Object();  // must be an object
  // The signing time: Flask's and Django's timestamp, Pyramid's accessed
  // time (whole seconds are used, as the frameworks do).
  int64_t now_micros = 0;
  // Pyramid's "created" (Unix seconds); nullopt: the signing time.
  std::optional<double> created_at;
  // Rails' "_rails" exp (Unix microseconds, written to the millisecond);
  // nullopt writes exp null, as Rails does without expire_after.
  std::optional<int64_t> expires_at_micros;
};

// One configured old format. Made by the New*CookieFormat factories below.
class LegacyCookieFormat {
 public:
  virtual ~LegacyCookieFormat() = default;
  virtual LegacyFormat format() const = 0;

  // Verifies one cookie value as the browser sent it (the text after
  // "name=" in the Cookie header, without surrounding double quotes) at
  // `now_micros` (Unix microseconds) and returns its session.
  // Errors, one per way the framework refuses a cookie:
  //   TOO_LARGE      over kMaxLegacyCookieBytes, or a payload inflating
  //                  past kMaxLegacyPayloadBytes
  //   BAD_ENCODING   not the format's text: a separator missing, base64 or
  //                  a timestamp the library cannot decode
  //   TRUNCATED      empty, or too short to hold the signature / tag
  //   BAD_MAC        the MAC or AEAD tag does not verify with any secret
  //                  (tampered with, or signed with another secret)
  //   EXPIRED        too old by the framework's own rule
  //   NOT_YET_VALID  dated in the future where the library refuses that
  //                  (Flask; Django and Pyramid accept it)
  //   WRONG_PURPOSE  Rails: a cookie encrypted for another cookie name
  //   UNKNOWN_VERSION the MAC verified but the payload is not one this
  //                  library reads: Rails Marshal payloads, data that is not
  //                  a JSON object, JSON the framework's parser refuses (it
  //                  answers 500 there), or values sessiond cannot hold
  //                  (docs/migration.md lists them)
  virtual Result<LegacySession> Verify(std::string_view cookie_value,
                                       int64_t now_micros) const = 0;

  // Renders data as a cookie value the framework accepts, signed (or
  // encrypted) with the first secret, ready for Set-Cookie (Rails: percent-
  // encoded as Rack writes it). Errors: INVALID_ARGUMENT (data not an
  // object, or a value the format cannot carry), TOO_LARGE (over what the
  // framework or a browser keeps: 4096 bytes; Pyramid 4064).
  virtual Result<std::string> Render(const LegacyRenderInput& input) const = 0;
};

// Secrets: every format takes a list, the current secret first, then older
// ones that must still verify (key rotation). Only the first one signs what
// Render makes. They are copied into derived keys at construction and never
// appear in a Status message.

struct FlaskCookieOptions {
  // app.secret_key: bytes, or the UTF-8 of a str. (itsdangerous accepts a
  // list for rotation, oldest first: give it here newest first.)
  std::vector<std::string> secret_keys;
  // int(app.permanent_session_lifetime.total_seconds()): Flask checks it on
  // every cookie, permanent or not. Default 31 days.
  int64_t max_age_seconds = 31 * 86400;
  // SecureCookieSessionInterface.salt.
  std::string salt = "cookie-session";
};

struct PyramidCookieOptions {
  // SignedCookieSessionFactory(secret): the text as configured, in UTF-8;
  // encoded as WebOb does (Latin-1 when every character fits, else UTF-8).
  std::vector<std::string> secrets;
  std::string salt = "pyramid.session.";
  // hashalg: "sha512" (the default), "sha256" or "sha1".
  std::string hashalg = "sha512";
  // timeout in seconds; nullopt is timeout=None (never times out).
  std::optional<int64_t> timeout_seconds = 1200;
};

struct DjangoCookieOptions {
  // settings.SECRET_KEY (UTF-8). Django 3.2 itself knows one; more are
  // accepted here for teams that rotated.
  std::vector<std::string> secret_keys;
  // settings.SESSION_COOKIE_AGE.
  int64_t session_cookie_age = 1209600;
  // settings.DEFAULT_HASHING_ALGORITHM: "sha256" (3.2's default) or "sha1".
  // SHA-1 signatures verify either way (Signer.legacy_algorithm).
  std::string default_hashing_algorithm = "sha256";
  std::string salt = "django.contrib.sessions.backends.signed_cookies";
};

struct RailsCookieOptions {
  // secret_key_base values. Rails reads older ones through
  // config.action_dispatch.cookies_rotations with keys derived the same way
  // (KeyGenerator, 1000 iterations, the same salt).
  std::vector<std::string> secret_key_bases;
  // The session cookie's name (session_store key:, e.g. "_myapp_session"):
  // cookies are encrypted for the purpose "cookie.<name>".
  std::string cookie_name;
  // True: the value as in the Cookie header, which Rack unescapes first
  // (%XX, '+'). False: the value already unescaped (request.cookies[...]).
  bool value_is_escaped = true;
  // config.action_dispatch.use_authenticated_cookie_encryption (true since
  // the 5.2 defaults): AES-256-GCM. Either way Rails 6.1 reads both GCM and
  // the older AES-256-CBC + HMAC-SHA1 cookies while the salts below are set
  // (their defaults); Render uses GCM when true, else CBC.
  bool use_authenticated_cookie_encryption = true;
  // config.action_dispatch.use_cookies_with_metadata (true since the 6.0
  // defaults): Render wraps the data in the "_rails" envelope. Verify reads
  // cookies with and without it, as Rails does.
  bool use_cookies_with_metadata = true;
  std::string authenticated_encrypted_cookie_salt =
      "authenticated encrypted cookie";
  std::string encrypted_cookie_salt = "encrypted cookie";
  std::string encrypted_signed_cookie_salt = "signed encrypted cookie";
};

// Each factory refuses (INVALID_ARGUMENT) a configuration the framework
// would not run with: no secrets, an empty secret, an unknown algorithm, a
// negative age, an empty Rails cookie name.
Result<std::unique_ptr<LegacyCookieFormat>> NewFlaskCookieFormat(
    FlaskCookieOptions options);
Result<std::unique_ptr<LegacyCookieFormat>> NewPyramidCookieFormat(
    PyramidCookieOptions options);
Result<std::unique_ptr<LegacyCookieFormat>> NewDjangoCookieFormat(
    DjangoCookieOptions options);
Result<std::unique_ptr<LegacyCookieFormat>> NewRailsCookieFormat(
    RailsCookieOptions options);

// The "imported cookie" fingerprint: what phase 2 stores so that one old
// cookie makes one session. HMAC-SHA-256 under `key` (at least 32 bytes;
// derive it from sessiond's keyring) of the format and the cookie's
// authenticated bytes, as 43 characters of unpadded base64url. Two texts
// of one cookie that the framework accepts alike have one fingerprint;
// nothing about the cookie can be learnt from it without the key.
std::string LegacyFingerprint(std::string_view key,
                              const LegacySession& session);

// Where old sessions keep the signed-in user, by convention:
//   flask "_user_id" (Flask-Login), django "_auth_user_id",
//   rails "warden.user.user.key" (Devise), pyramid "" (no convention).
std::string_view DefaultLegacyUserIdKey(LegacyFormat format);
// The user id stored under `key` in the data: a string as is, an integer
// as its decimal text, or Devise's [[id, ...], salt] shape's first id.
// nullopt when the key is absent, empty or holds anything else.
std::optional<std::string> LegacyUserId(const JsonValue& data,
                                        std::string_view key);

}  // namespace sessiond
