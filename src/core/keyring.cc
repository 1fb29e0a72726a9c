// Keyring: checking secrets, deriving per-purpose keys from them with
// HKDF-SHA-256, and choosing the key that signs and the keys that verify.
// Secret bytes live only in KeySpec (briefly) and in the derived keys, all
// in guarded memory (SecretBytes); no message built here ever contains
// them. The keyring file (TOML on disk, generation, rotation) is
// keyring_file.cc's.
#include "sessiond/keyring.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sodium.h>
#include <zxcvbn.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "sessiond/session.h"

// POSIX: the environment; not every libc header declares it.
extern char** environ;

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
};
// The user tag key when the keyring file has no [user_tag]: derived from
// the lowest id's secret with a purpose of its own (never rotated).
constexpr std::string_view kUserTagInfo = "sessiond v1 user tag";

// Words zxcvbn should count as known, on top of its own dictionaries: what
// people name a session secret after, and phrases famous enough to be
// guessed whole (zxcvbn's word lists hold single words, so a well-known
// sentence would otherwise score as a long passphrase).
// (Not const: ZxcvbnMatch takes `const char**`; it only reads.)
const char* kUserDictionary[] = {
    "sessiond",
    "session",
    "secret",
    "cookie",
    "keyring",
    "signing",
    "production",
    "development",
    "staging",
    "changeme",
    "app",
    "key",
    "correct horse battery staple",
    "correcthorsebatterystaple",
    "lorem ipsum dolor sit amet",
    "loremipsum",
    "the quick brown fox jumps over the lazy dog",
    "thequickbrownfox",
    "keyboard cat",
    "to be or not to be",
    "to be, or not to be",
    "tobeornottobe",
    nullptr,
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

// zxcvbn's estimate of log2(guesses) for `secret`. It reads a C string of
// text: a secret that is not text (a NUL, or bytes that are not UTF-8: raw
// random bytes, as sessiond generates) is estimated in its base64url form,
// which is what a person would have typed for it. The copies live in
// guarded memory, and the stack zxcvbn used is wiped after it (its
// matchers keep lower-cased and de-l33ted fragments in local arrays).
double EstimatedBits(std::string_view secret) {
  const bool text = IsUtf8(secret) &&
                    std::memchr(secret.data(), '\0', secret.size()) == nullptr;
  SecretBytes input;
  if (text) {
    input = secret;
  } else {
    input = SecretBytes(sodium_base64_ENCODED_LEN(
        secret.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING));
    sodium_bin2base64(input.chars(), input.size(),
                      reinterpret_cast<const unsigned char*>(secret.data()),
                      secret.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    input.Truncate(std::strlen(input.chars()));
  }
  input.Append(std::string_view("\0", 1));
  const double bits = ZxcvbnMatch(input.chars(), kUserDictionary, nullptr);
  sodium_stackzero(64 * 1024);
  return bits;
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
  SecretBytes lower_copy(secret);  // guarded, like the secret itself
  for (size_t i = 0; i < lower_copy.size(); ++i) {
    lower_copy.data()[i] =
        static_cast<uint8_t>(std::tolower(lower_copy.data()[i]));
  }
  const std::string_view lower = lower_copy.view();
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
  const double bits = EstimatedBits(secret);
  if (bits < kMinSecretBits) {
    char estimate[32];
    std::snprintf(estimate, sizeof(estimate), "%.0f", bits);
    return Status(Code::kInvalidArgument,
                  std::string("secret is guessable: zxcvbn estimates about "
                              "2^") +
                      estimate + " guesses, fewer than 2^" +
                      std::to_string(static_cast<int>(kMinSecretBits)) +
                      " (words, names, dates, keyboard walks and repeats "
                      "are what it finds); " +
                      kFixHint);
  }
  return Status::Ok();
}

bool operator==(const Keyring::DerivedKeys& a, const Keyring::DerivedKeys& b) {
  return sodium_memcmp(a.base_, b.base_, kKeyPurposes * kDerivedKeyBytes) == 0;
}

Result<Keyring> Keyring::FromSpecs(
    std::vector<KeySpec> specs, const std::optional<SecretBytes>& user_tag_key) {
  if (specs.empty()) {
    return Status(Code::kInvalidArgument, "keyring has no keys");
  }
  if (user_tag_key && user_tag_key->size() != kDerivedKeyBytes) {
    return Status(Code::kInvalidArgument,
                  "[user_tag] key must be " + std::to_string(kDerivedKeyBytes) +
                      " bytes, got " + std::to_string(user_tag_key->size()));
  }
  std::sort(specs.begin(), specs.end(),
            [](const KeySpec& a, const KeySpec& b) { return a.id < b.id; });
  Keyring ring;
  ring.keys_.reserve(specs.size());
  ring.secure_ =
      SecretBytes((specs.size() * kKeyPurposes + 1) * kDerivedKeyBytes);
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
    for (int64_t t : {spec.created_at, spec.retire_at}) {
      if (t < 0 || t > kMaxKeyringTime) {
        return Status(Code::kInvalidArgument,
                      name + ": a time outside 1970..9999 (" +
                          std::to_string(t) + ")");
      }
    }
    Status strength = CheckSecretStrength(spec.secret.view());
    if (!strength.ok()) {
      return Status(Code::kInvalidArgument, name + ": " + strength.message());
    }
    Key key;
    key.id = spec.id;
    key.created_at = spec.created_at;
    key.retire_at = spec.retire_at;
    uint8_t* base = ring.secure_.data() + i * kKeyPurposes * kDerivedKeyBytes;
    key.derived.base_ = base;
    for (size_t p = 0; p < kHkdfInfo.size(); ++p) {
      SESSIOND_RETURN_IF_ERROR(HkdfSha256(spec.secret.view(), kHkdfSalt,
                                          kHkdfInfo[p],
                                          base + p * kDerivedKeyBytes,
                                          kDerivedKeyBytes));
    }
    ring.keys_.push_back(key);
  }
  uint8_t* tag = ring.secure_.data() + specs.size() * kKeyPurposes *
                                           kDerivedKeyBytes;
  if (user_tag_key) {
    std::memcpy(tag, user_tag_key->data(), kDerivedKeyBytes);
    ring.has_user_tag_entry_ = true;
  } else {
    SESSIOND_RETURN_IF_ERROR(HkdfSha256(specs.front().secret.view(), kHkdfSalt,
                                        kUserTagInfo, tag, kDerivedKeyBytes));
  }
  return ring;
}

Result<Keyring> Keyring::FromEnv(const char* var) {
  // Find the variable's entry in environ itself: its bytes are what
  // /proc/PID/environ shows (for the initial environment, the kernel reads
  // them from the stack the process started with), so they are wiped in
  // place after the copy, and then the entry is unset.
  const size_t name_len = std::strlen(var);
  char* entry = nullptr;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, var, name_len) == 0 && (*e)[name_len] == '=') {
      entry = *e;
      break;
    }
  }
  if (entry == nullptr) {
    return Status(Code::kNotFound,
                  std::string("environment variable ") + var + " is not set");
  }
  std::vector<KeySpec> specs(1);
  specs[0].id = 1;
  specs[0].secret = SecretBytes(std::string_view(entry + name_len + 1));
  ::unsetenv(var);
  sodium_memzero(entry, std::strlen(entry));
  Result<Keyring> ring = FromSpecs(std::move(specs));
  sodium_stackzero(16 * 1024);
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
