// Importers: [import.<format>] into ready verifiers (importers.h). The
// secrets are copied into each format's derived keys at construction; the
// file text and the parsed list are wiped here as soon as that is done.
#include "server/importers.h"

#include <openssl/crypto.h>
#include <sodium.h>

#include <array>
#include <cstdlib>
#include <utility>

#include "core/file_io.h"

namespace sessiond {
namespace {

constexpr std::string_view kBase64Prefix = "base64:";
// HKDF's salt and info for the fingerprint key: part of the format of the
// stored markers; changing them forgets every import.
constexpr std::string_view kFingerprintSalt = "sessiond import v1";
constexpr std::string_view kFingerprintInfo = "sessiond v1 import fingerprint";

// Overwrites secret text before its memory is given back.
void Wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}
void Wipe(std::vector<std::string>& v) {
  for (std::string& s : v) Wipe(s);
  v.clear();
}

Result<std::vector<std::string>> ReadSecrets(const std::string& path,
                                             const char* table) {
  Result<std::string> text =
      ReadPrivateFile(path, "import secrets file", kMaxLegacySecretsFileBytes);
  if (!text.ok()) {
    return Status(text.code(), std::string("[") + table + "] secrets_file: " +
                                   text.status().message());
  }
  Result<std::vector<std::string>> secrets = ParseLegacySecrets(*text, path);
  Wipe(*text);
  if (!secrets.ok()) {
    return Status(secrets.code(),
                  std::string("[") + table + "] " + secrets.status().message());
  }
  return secrets;
}

Status Built(Result<std::unique_ptr<LegacyCookieFormat>>& made,
             const char* table, std::optional<Importers::Format>& slot,
             LegacyFormat format, std::string user_id_key) {
  if (!made.ok()) {
    return Status(made.code(),
                  std::string("[") + table + "] " + made.status().message());
  }
  Importers::Format f;
  f.cookie = std::move(*made);
  f.mapping.format = format;
  f.mapping.user_id_key = std::move(user_id_key);
  slot = std::move(f);
  return Status();
}

size_t Slot(LegacyFormat format) { return static_cast<size_t>(format) - 1; }

}  // namespace

Result<std::vector<std::string>> ParseLegacySecrets(std::string_view text,
                                                    const std::string& path) {
  std::vector<std::string> out;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view()
                                        : text.substr(nl + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.starts_with(kBase64Prefix)) {
      std::string_view b64 = line.substr(kBase64Prefix.size());
      std::string raw(b64.size(), '\0');
      size_t len = 0;
      if (sodium_base642bin(reinterpret_cast<unsigned char*>(raw.data()),
                            raw.size(), b64.data(), b64.size(), nullptr, &len,
                            nullptr, sodium_base64_VARIANT_ORIGINAL) != 0 ||
          len == 0) {
        Wipe(raw);
        Wipe(out);
        return InvalidArgument(path + " line " + std::to_string(line_no) +
                               ": not base64 after \"base64:\"");
      }
      raw.resize(len);
      out.push_back(std::move(raw));
    } else {
      out.emplace_back(line);
    }
  }
  if (out.empty()) {
    return InvalidArgument(path + " holds no secret (one per line, the "
                                  "current one first)");
  }
  return out;
}

std::string ImportFingerprintKey(const Keyring& keyring) {
  // keys() is sorted by id: the first is the oldest.
  const Keyring::Key& oldest = keyring.keys().front();
  const auto& sign = oldest.derived[static_cast<size_t>(KeyPurpose::kSign)];
  std::string key(32, '\0');
  Status st = HkdfSha256(
      std::string_view(reinterpret_cast<const char*>(sign.data()), sign.size()),
      kFingerprintSalt, kFingerprintInfo,
      reinterpret_cast<uint8_t*>(key.data()), key.size());
  // HKDF with fixed sizes fails only if OpenSSL cannot run it at all.
  if (!st.ok()) std::abort();
  return key;
}

Result<std::unique_ptr<Importers>> Importers::Load(const ImportConfig& c) {
  std::unique_ptr<Importers> out(new Importers());
  out->max_retention_s_ = c.max_retention_s;
  if (c.flask) {
    Result<std::vector<std::string>> secrets =
        ReadSecrets(c.flask->secrets_file, "import.flask");
    if (!secrets.ok()) return secrets.status();
    FlaskCookieOptions o;
    o.secret_keys = std::move(*secrets);
    o.max_age_seconds = c.flask->max_age_s;
    o.salt = c.flask->salt;
    // Moved, so the one copy left is the factory's (its derived keys).
    auto made = NewFlaskCookieFormat(std::move(o));
    SESSIOND_RETURN_IF_ERROR(Built(made, "import.flask",
                                   out->formats_[Slot(LegacyFormat::kFlask)],
                                   LegacyFormat::kFlask, c.flask->user_id_key));
    out->formats_[Slot(LegacyFormat::kFlask)]->expire_after_s =
        c.flask->max_age_s;
  }
  if (c.pyramid) {
    Result<std::vector<std::string>> secrets =
        ReadSecrets(c.pyramid->secrets_file, "import.pyramid");
    if (!secrets.ok()) return secrets.status();
    PyramidCookieOptions o;
    o.secrets = std::move(*secrets);
    o.salt = c.pyramid->salt;
    o.hashalg = c.pyramid->hashalg;
    o.timeout_seconds = c.pyramid->timeout_s;
    // Moved, so the one copy left is the factory's (its derived keys).
    auto made = NewPyramidCookieFormat(std::move(o));
    SESSIOND_RETURN_IF_ERROR(
        Built(made, "import.pyramid",
              out->formats_[Slot(LegacyFormat::kPyramid)],
              LegacyFormat::kPyramid, c.pyramid->user_id_key));
    out->formats_[Slot(LegacyFormat::kPyramid)]->expire_after_s =
        c.pyramid->timeout_s;
  }
  if (c.django) {
    Result<std::vector<std::string>> secrets =
        ReadSecrets(c.django->secrets_file, "import.django");
    if (!secrets.ok()) return secrets.status();
    DjangoCookieOptions o;
    o.secret_keys = std::move(*secrets);
    o.session_cookie_age = c.django->session_cookie_age_s;
    o.default_hashing_algorithm = c.django->default_hashing_algorithm;
    o.salt = c.django->salt;
    // Moved, so the one copy left is the factory's (its derived keys).
    auto made = NewDjangoCookieFormat(std::move(o));
    SESSIOND_RETURN_IF_ERROR(
        Built(made, "import.django", out->formats_[Slot(LegacyFormat::kDjango)],
              LegacyFormat::kDjango, c.django->user_id_key));
    out->formats_[Slot(LegacyFormat::kDjango)]->expire_after_s =
        c.django->session_cookie_age_s;
  }
  if (c.rails) {
    Result<std::vector<std::string>> secrets =
        ReadSecrets(c.rails->secrets_file, "import.rails");
    if (!secrets.ok()) return secrets.status();
    RailsCookieOptions o;
    o.secret_key_bases = std::move(*secrets);
    o.cookie_name = c.rails->cookie;
    o.value_is_escaped = true;  // IMPORT takes the value as the browser sent it
    o.use_authenticated_cookie_encryption =
        c.rails->use_authenticated_cookie_encryption;
    o.use_cookies_with_metadata = c.rails->use_cookies_with_metadata;
    o.authenticated_encrypted_cookie_salt =
        c.rails->authenticated_encrypted_cookie_salt;
    o.encrypted_cookie_salt = c.rails->encrypted_cookie_salt;
    o.encrypted_signed_cookie_salt = c.rails->encrypted_signed_cookie_salt;
    // Moved, so the one copy left is the factory's (its derived keys).
    auto made = NewRailsCookieFormat(std::move(o));
    SESSIOND_RETURN_IF_ERROR(
        Built(made, "import.rails", out->formats_[Slot(LegacyFormat::kRails)],
              LegacyFormat::kRails, c.rails->user_id_key));
    if (c.rails->expire_after_s > 0) {
      out->formats_[Slot(LegacyFormat::kRails)]->expire_after_s =
          c.rails->expire_after_s;
    }
  }
  return out;
}

const Importers::Format* Importers::Find(LegacyFormat format) const {
  const size_t i = Slot(format);
  if (i >= std::size(formats_) || !formats_[i]) return nullptr;
  return &*formats_[i];
}

std::vector<std::string_view> Importers::Names() const {
  std::vector<std::string_view> out;
  for (const auto& f : formats_) {
    if (f) out.push_back(LegacyFormatName(f->cookie->format()));
  }
  return out;
}

}  // namespace sessiond
