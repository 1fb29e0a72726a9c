// Importers: the old cookie formats of [import.<format>] (docs/migration.md)
// made ready for IMPORT, EXPORT and IMPORT_CHECK: each format's verifier
// and renderer (src/import/legacy_cookie.h) built from its secrets file, its
// data mapping, and the key of the fingerprints that make "one old cookie,
// one session" hold across keyring rotations.
//
// Threading: built on the main thread at start-up (it reads files); after
// that immutable, so the loop thread (and any other) may read it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "import/legacy_cookie.h"
#include "import/legacy_mapping.h"
#include "server/config.h"
#include "sessiond/keyring.h"
#include "sessiond/status.h"

namespace sessiond {

// The longest secrets file read (a few secrets, not a data file).
inline constexpr size_t kMaxLegacySecretsFileBytes = 64 * 1024;

// Parses a secrets file: one secret per line (LF or CRLF), the current one
// first, then older ones still accepted; blank lines are skipped; a line
// "base64:<standard base64>" stands for raw bytes (a Flask secret_key given
// as bytes). Everything else on a line is the secret, spaces included.
// Errors: kInvalidArgument naming `path` and the line (never its text).
Result<std::vector<std::string>> ParseLegacySecrets(std::string_view text,
                                                    const std::string& path);

// The fingerprint key: HKDF-SHA-256 over the signing key of the keyring's
// oldest key (the lowest id: rotation adds keys above it and retires it,
// but keeps it in the file), with the purpose "sessiond v1 import
// fingerprint". So fingerprints stay the same across KEYS_ROTATE and
// SIGHUP, and no other key can be learnt from one.
std::string ImportFingerprintKey(const Keyring& keyring);

class Importers {
 public:
  struct Format {
    std::unique_ptr<LegacyCookieFormat> cookie;
    LegacyMappingOptions mapping;
    // The format's own age rule, for what EXPORT renders: how long a cookie
    // made now stays valid (Flask max_age, Django session_cookie_age,
    // Pyramid timeout, Rails expire_after, which also becomes its "_rails"
    // exp); nullopt: no end of its own.
    std::optional<int64_t> expire_after_s;
  };

  // Reads each configured format's secrets file (ReadPrivateFile: refused
  // when group or others may read it) and builds its verifier. Blocking;
  // start-up only. Errors: kNotFound / kPermissionDenied naming the file,
  // kInvalidArgument (an empty file, a bad line, a configuration the
  // framework would not run with).
  static Result<std::unique_ptr<Importers>> Load(const ImportConfig& config);

  // The format's configuration, or nullptr when [import.<format>] is absent.
  const Format* Find(LegacyFormat format) const;
  int64_t max_retention_s() const { return max_retention_s_; }
  // The configured formats' names, for the start line.
  std::vector<std::string_view> Names() const;

 private:
  Importers() = default;
  std::optional<Format> formats_[4];  // by LegacyFormat - 1
  int64_t max_retention_s_ = 0;
};

}  // namespace sessiond
