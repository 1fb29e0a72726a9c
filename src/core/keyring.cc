// Keyring: checking secrets, deriving per-purpose keys from them with
// HKDF-SHA-256, and choosing the key that signs and the keys that verify.
// Secret bytes live only in KeySpec (briefly) and in the derived keys; no
// message built here ever contains them. The keyring file (TOML on disk,
// generation, rotation) is keyring_file.cc's.
#include "sessiond/keyring.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace sessiond {
namespace {

// HKDF inputs. The salt is a fixed, public, application-specific string
// (RFC 5869 section 3.1 allows this); the info strings separate purposes,
// so a key leaked from one purpose (say, a CSRF token oracle) tells nothing
// about the signing or encryption key. Changing any of these strings
// invalidates every token in the field: they are part of the format.
constexpr std::string_view kHkdfSalt = "sessiond keyring v1";
constexpr std::array<std::string_view, kKeyPurposes> kHkdfInfo = {
    "sessiond v1 sign",     // KeyPurpose::kSign: HMAC-SHA-256 of server tokens
    "sessiond v1 encrypt",  // KeyPurpose::kEncrypt: XChaCha20-Poly1305
    "sessiond v1 csrf",     // KeyPurpose::kCsrf: CSRF token MACs
    "sessiond v1 redis-record",  // KeyPurpose::kRedisRecord: Redis records
};

constexpr char kFixHint[] =
    "use at least 32 random bytes, e.g. `head -c 32 /dev/urandom | "
    "base64 | tr '+/' '-_' | tr -d '='` in a 0600 keyring file, or let "
    "sessiond generate one";

// Well-known placeholder and dictionary secrets, lower case. A secret made
// mostly of these (repeated, concatenated, in any letter case) is refused:
// they are the first thing an attacker tries.
constexpr std::string_view kWeakWords[] = {
    "seekrit",   "secret",      "s3cret",     "changeme",   "change_me",
    "change-me", "changeit",    "password",   "passw0rd",   "passwd",
    "default",   "example",     "sample",     "test",       "letmein",
    "qwerty",    "asdf",        "admin",      "root",       "sessiond",
    "session",   "cookie",      "insecure",   "notasecret", "dummy",
    "foobar",    "development", "production", "replace",    "please",
    "hunter2",   "todo",        "fixme",      "12345678",   "123456",
    "0000",      "1111",        "abcdef",     "key",        "xxxx",
};

bool IsPeriodic(std::string_view s, size_t period) {
  for (size_t i = period; i < s.size(); ++i) {
    if (s[i] != s[i - period]) return false;
  }
  return true;
}

}  // namespace

Status HkdfSha256(std::string_view ikm, std::string_view salt,
                  std::string_view info, uint8_t* out, size_t out_len) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return Status(Code::kInternal, "OpenSSL has no HKDF");
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);  // the context holds its own reference
  if (ctx == nullptr) return Status(Code::kInternal, "HKDF context failed");

  // OSSL_PARAM takes non-const pointers but does not write through them.
  std::array<OSSL_PARAM, 5> params;
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(
      OSSL_KDF_PARAM_DIGEST, const_cast<char*>("SHA256"), 0);
  params[n++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_KEY, const_cast<char*>(ikm.data()), ikm.size());
  // An absent salt means HashLen zero bytes (RFC 5869 section 2.2), which
  // is also OpenSSL's default; an empty info is likewise the default.
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()), salt.size());
  }
  if (!info.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();
  const int rc = EVP_KDF_derive(ctx, out, out_len, params.data());
  EVP_KDF_CTX_free(ctx);
  if (rc != 1) return Status(Code::kInternal, "HKDF-SHA-256 derivation failed");
  return Status::Ok();
}

Status Keyring::CheckSecretStrength(std::string_view secret) {
  if (secret.size() < kMinSecretBytes) {
    return Status(Code::kInvalidArgument,
                  "secret is too short (" + std::to_string(secret.size()) +
                      " bytes, need at least " +
                      std::to_string(kMinSecretBytes) + "); " + kFixHint);
  }
  // "aaaa...", "abab...", "0123456701234567...": a short pattern repeated
  // has the entropy of the pattern, not of the length.
  const size_t max_period = std::min<size_t>(16, secret.size() / 2);
  for (size_t period = 1; period <= max_period; ++period) {
    if (IsPeriodic(secret, period)) {
      return Status(
          Code::kInvalidArgument,
          period == 1
              ? std::string("secret is one byte repeated; ") + kFixHint
              : "secret is a short pattern repeated; " + std::string(kFixHint));
    }
  }
  // "abcdefgh...", "0123456789...": counting runs are not random.
  size_t steps = 0;
  size_t distinct = 0;
  std::array<bool, 256> seen{};
  for (size_t i = 0; i < secret.size(); ++i) {
    const auto b = static_cast<unsigned char>(secret[i]);
    if (!seen[b]) {
      seen[b] = true;
      ++distinct;
    }
    if (i > 0) {
      const int d = b - static_cast<unsigned char>(secret[i - 1]);
      if (d == 1 || d == -1) ++steps;
    }
  }
  if (steps * 4 >= (secret.size() - 1) * 3) {
    return Status(
        Code::kInvalidArgument,
        std::string("secret is mostly a counting sequence; ") + kFixHint);
  }
  // Known-weak words, in any case, making up most of the secret
  // ("SEEKRITSEEKRIT...", "changeme-changeme-password-1234").
  std::string lower(secret);
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::vector<bool> covered(lower.size(), false);
  for (std::string_view word : kWeakWords) {
    for (size_t pos = lower.find(word); pos != std::string::npos;
         pos = lower.find(word, pos + 1)) {
      std::fill_n(covered.begin() + static_cast<ptrdiff_t>(pos), word.size(),
                  true);
    }
  }
  const size_t weak =
      static_cast<size_t>(std::count(covered.begin(), covered.end(), true));
  if (weak * 2 > lower.size()) {
    return Status(Code::kInvalidArgument,
                  "secret is made mostly of well-known words (like 'secret', "
                  "'SEEKRIT' or 'changeme'); " +
                      std::string(kFixHint));
  }
  // 32 random bytes have about 30 distinct values, 32 random hex digits
  // about 14; fewer than 8 means a human typed it.
  if (distinct < 8) {
    return Status(Code::kInvalidArgument,
                  "secret uses only " + std::to_string(distinct) +
                      " distinct byte values; " + kFixHint);
  }
  return Status::Ok();
}

Result<Keyring> Keyring::FromSpecs(std::vector<KeySpec> specs) {
  if (specs.empty()) {
    return Status(Code::kInvalidArgument, "keyring has no keys");
  }
  std::sort(specs.begin(), specs.end(),
            [](const KeySpec& a, const KeySpec& b) { return a.id < b.id; });
  Keyring ring;
  ring.keys_.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const KeySpec& spec = specs[i];
    const std::string name = "key id " + std::to_string(spec.id);
    if (spec.id == 0) {
      return Status(Code::kInvalidArgument,
                    "key id 0 is reserved; use 1 or more");
    }
    if (i > 0 && specs[i - 1].id == spec.id) {
      return Status(Code::kInvalidArgument, name + " appears twice");
    }
    Status strength = CheckSecretStrength(spec.secret);
    if (!strength.ok()) {
      return Status(Code::kInvalidArgument, name + ": " + strength.message());
    }
    Key key;
    key.id = spec.id;
    key.created_at = spec.created_at;
    key.retire_at = spec.retire_at;
    for (size_t p = 0; p < kHkdfInfo.size(); ++p) {
      SESSIOND_RETURN_IF_ERROR(HkdfSha256(spec.secret, kHkdfSalt, kHkdfInfo[p],
                                          key.derived[p].data(),
                                          key.derived[p].size()));
    }
    ring.keys_.push_back(key);
  }
  return ring;
}

Result<Keyring> Keyring::FromEnv(const char* var) {
  const char* value = std::getenv(var);
  if (value == nullptr) {
    return Status(Code::kNotFound,
                  std::string("environment variable ") + var + " is not set");
  }
  std::vector<KeySpec> specs(1);
  specs[0].id = 1;
  specs[0].secret = value;
  Result<Keyring> ring = FromSpecs(std::move(specs));
  if (!ring.ok()) {
    return Status(ring.code(), std::string("environment variable ") + var +
                                   ": " + ring.status().message());
  }
  return ring;
}

const Keyring::Key* Keyring::Current(int64_t now) const {
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
    if (it->retire_at == 0 || now < it->retire_at) return &*it;
  }
  return nullptr;
}

Result<const Keyring::Key*> Keyring::Find(uint32_t id, int64_t now) const {
  auto it = std::lower_bound(
      keys_.begin(), keys_.end(), id,
      [](const Key& key, uint32_t wanted) { return key.id < wanted; });
  if (it == keys_.end() || it->id != id) {
    return Status(Code::kUnknownKey, "token key id " + std::to_string(id) +
                                         " is not in the keyring");
  }
  if (it->retire_at != 0 && now >= it->retire_at) {
    return Status(Code::kRetiredKey,
                  "token key id " + std::to_string(id) + " is retired");
  }
  return &*it;
}

}  // namespace sessiond
