// The import library's front: format names, the factories (configuration
// checks, key derivation at construction), the fingerprint and the user id
// conventions. The formats themselves are in <format>_cookie.cc.
#include "import/legacy_cookie.h"

#include "import/formats.h"
#include "import/python_compat.h"

namespace sessiond {
namespace {

using legacy_detail::Digest;

Status Invalid(std::string what) {
  return Status(Code::kInvalidArgument, std::move(what));
}

Status CheckSecrets(const std::vector<std::string>& secrets,
                    std::string_view what) {
  if (secrets.empty()) return Invalid(std::string(what) + ": no secret given");
  for (size_t i = 0; i < secrets.size(); ++i) {
    if (secrets[i].empty()) {
      return Invalid(std::string(what) + ": secret " + std::to_string(i) +
                     " is empty");
    }
  }
  return Status::Ok();
}

std::optional<Digest> DigestByName(std::string_view name) {
  if (name == "sha1") return Digest::kSha1;
  if (name == "sha256") return Digest::kSha256;
  if (name == "sha512") return Digest::kSha512;
  return std::nullopt;
}

}  // namespace

std::string_view LegacyFormatName(LegacyFormat format) {
  switch (format) {
    case LegacyFormat::kFlask:
      return "flask";
    case LegacyFormat::kPyramid:
      return "pyramid";
    case LegacyFormat::kDjango:
      return "django";
    case LegacyFormat::kRails:
      return "rails";
  }
  return "unknown";
}

std::optional<LegacyFormat> LegacyFormatFromName(std::string_view name) {
  for (LegacyFormat f : {LegacyFormat::kFlask, LegacyFormat::kPyramid,
                         LegacyFormat::kDjango, LegacyFormat::kRails}) {
    if (LegacyFormatName(f) == name) return f;
  }
  return std::nullopt;
}

Result<std::unique_ptr<LegacyCookieFormat>> NewFlaskCookieFormat(
    FlaskCookieOptions options) {
  SESSIOND_RETURN_IF_ERROR(CheckSecrets(options.secret_keys, "flask"));
  if (options.max_age_seconds < 0) return Invalid("flask: negative max_age");
  return std::unique_ptr<LegacyCookieFormat>(
      std::make_unique<legacy_detail::FlaskCookieFormat>(options));
}

Result<std::unique_ptr<LegacyCookieFormat>> NewPyramidCookieFormat(
    PyramidCookieOptions options) {
  SESSIOND_RETURN_IF_ERROR(CheckSecrets(options.secrets, "pyramid"));
  std::optional<Digest> digest = DigestByName(options.hashalg);
  if (!digest) {
    return Invalid("pyramid: hashalg must be sha512, sha256 or sha1");
  }
  if (options.timeout_seconds && *options.timeout_seconds < 0) {
    return Invalid("pyramid: negative timeout");
  }
  return std::unique_ptr<LegacyCookieFormat>(
      std::make_unique<legacy_detail::PyramidCookieFormat>(options, *digest));
}

Result<std::unique_ptr<LegacyCookieFormat>> NewDjangoCookieFormat(
    DjangoCookieOptions options) {
  SESSIOND_RETURN_IF_ERROR(CheckSecrets(options.secret_keys, "django"));
  std::optional<Digest> digest =
      DigestByName(options.default_hashing_algorithm);
  if (!digest || *digest == Digest::kSha512) {
    // Django 3.2's DEFAULT_HASHING_ALGORITHM allows only these two.
    return Invalid("django: DEFAULT_HASHING_ALGORITHM must be sha256 or sha1");
  }
  if (options.session_cookie_age < 0) {
    return Invalid("django: negative SESSION_COOKIE_AGE");
  }
  return std::unique_ptr<LegacyCookieFormat>(
      std::make_unique<legacy_detail::DjangoCookieFormat>(options, *digest));
}

Result<std::unique_ptr<LegacyCookieFormat>> NewRailsCookieFormat(
    RailsCookieOptions options) {
  SESSIOND_RETURN_IF_ERROR(CheckSecrets(options.secret_key_bases, "rails"));
  if (options.cookie_name.empty()) return Invalid("rails: no cookie name");
  return std::unique_ptr<LegacyCookieFormat>(
      std::make_unique<legacy_detail::RailsCookieFormat>(options));
}

std::string LegacyFingerprint(std::string_view key,
                              const LegacySession& session) {
  std::string input = "sessiond legacy cookie v1";
  input.push_back('\0');
  input += LegacyFormatName(session.format);
  input.push_back('\0');
  input += session.authenticated;
  return legacy_detail::PythonB64Encode(
      legacy_detail::Hmac(Digest::kSha256, key, input), /*urlsafe=*/true,
      /*strip=*/true);
}

std::string_view DefaultLegacyUserIdKey(LegacyFormat format) {
  switch (format) {
    case LegacyFormat::kFlask:
      return "_user_id";
    case LegacyFormat::kDjango:
      return "_auth_user_id";
    case LegacyFormat::kRails:
      return "warden.user.user.key";
    case LegacyFormat::kPyramid:
      return "";
  }
  return "";
}

std::optional<std::string> LegacyUserId(const JsonValue& data,
                                        std::string_view key) {
  if (key.empty() || !data.is_object()) return std::nullopt;
  const JsonValue* v = data.Find(key);
  if (v == nullptr) return std::nullopt;
  // Devise (Warden's serialize_into_session): [[id], authenticatable_salt].
  if (v->is_array() && !v->array().empty() && v->array()[0].is_array() &&
      !v->array()[0].array().empty()) {
    v = &v->array()[0].array()[0];
  }
  if (v->is_string() && !v->string_value().empty()) return v->string_value();
  if (v->is_number() && v->is_integer()) return v->number_text();
  return std::nullopt;
}

}  // namespace sessiond
