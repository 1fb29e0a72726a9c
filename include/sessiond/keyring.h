// Keyring: the server's secrets. The newest live key signs and encrypts;
// every key verifies until its retire time, so a rotation logs nobody out.
// Per-purpose keys are derived from each secret with HKDF-SHA-256, so
// signing, encryption and CSRF never share a key.
//
// Secrets come from a keyring file (mode 0600, ours, in a directory nobody
// else can change; file_io.h) or from an environment variable; never from
// argv, and never into a log (no method here returns or prints secret
// bytes except the derived keys). Secrets and derived keys live in guarded
// memory (SecretBytes: locked, left out of core dumps, zeroed when freed).
//
// Keyring file format (TOML; each secret on a line of its own, written as
// below: the file is parsed without the secrets ever reaching the TOML
// library's strings):
//   [user_tag]                              # optional; generated files have it
//   key = "<base64url, 32 bytes>"           # never rotated (see UserTagKey)
//
//   [[key]]
//   id = 1                                  # 1 .. 2^32-1, unique
//   secret = "<base64url, >= 32 bytes>"
//   created = 2026-11-26T10:00:00Z          # optional
//   retire = 2027-01-01T00:00:00Z           # optional: stops verifying then
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sessiond/secret_bytes.h"
#include "sessiond/status.h"

namespace sessiond {

inline constexpr size_t kMinSecretBytes = 32;
inline constexpr size_t kDerivedKeyBytes = 32;
inline constexpr char kSecretEnvVar[] = "SESSIOND_SECRET";
// The latest instant a keyring file can hold (9999-12-31T23:59:59Z, the
// end of RFC 3339's four-digit years): created and retire times, and so a
// rotation's retire time, must not be later.
inline constexpr int64_t kMaxKeyringTime = 253402300799;

// kRedisRecord: the MAC on every record sessiond keeps in Redis
// (src/store/redis_seal.h), so write access to Redis cannot forge one.
enum class KeyPurpose : uint8_t {
  kSign = 0,
  kEncrypt = 1,
  kCsrf = 2,
  kRedisRecord = 3,
};
inline constexpr size_t kKeyPurposes = 4;

struct KeySpec {
  uint32_t id = 0;
  SecretBytes secret;      // raw bytes
  int64_t created_at = 0;  // unix seconds, 0 = unknown
  int64_t retire_at = 0;   // unix seconds, 0 = never
};

// An immutable set of keys. Thread-safe to read from any thread once built;
// reload by building a new Keyring and swapping a shared_ptr. Move-only:
// its keys point into its guarded memory.
class Keyring {
 public:
  // One key's per-purpose keys, kDerivedKeyBytes each: a view into the
  // keyring's guarded memory, valid while the Keyring lives.
  class DerivedKeys {
   public:
    std::span<const uint8_t, kDerivedKeyBytes> operator[](size_t purpose) const {
      return std::span<const uint8_t, kDerivedKeyBytes>(
          base_ + purpose * kDerivedKeyBytes, kDerivedKeyBytes);
    }
    friend bool operator==(const DerivedKeys& a, const DerivedKeys& b);

   private:
    friend class Keyring;
    const uint8_t* base_ = nullptr;
  };

  struct Key {
    uint32_t id = 0;
    int64_t created_at = 0;
    int64_t retire_at = 0;
    DerivedKeys derived;  // by KeyPurpose
  };

  Keyring(Keyring&&) = default;
  Keyring& operator=(Keyring&&) = default;
  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;

  // Builds from specs. `user_tag_key` is the file's [user_tag] key
  // (kDerivedKeyBytes); without one, the user tag key is derived from the
  // secret of the lowest key id (see UserTagKey). Errors: kInvalidArgument
  // for no keys, a duplicate id, id 0, a time outside 0..kMaxKeyringTime,
  // a weak secret (see CheckSecretStrength) or a user tag key that is not
  // kDerivedKeyBytes long.
  static Result<Keyring> FromSpecs(
      std::vector<KeySpec> specs,
      const std::optional<SecretBytes>& user_tag_key = std::nullopt);
  // Loads a keyring file. Errors: kPermissionDenied if group or others may
  // read it; kNotFound if missing; kInvalidArgument for bad TOML or keys.
  static Result<Keyring> LoadFile(const std::string& path);
  // The text of a keyring file, as LoadFile reads it (`where` names it in
  // errors); for tests and the fuzzer (fuzz/keyring_toml_fuzz.cc). Errors:
  // kInvalidArgument for bad TOML or keys.
  static Result<Keyring> FromFileText(std::string_view text,
                                      const std::string& where);
  // One key (id 1) whose secret is the raw value of the variable. The value
  // is copied into guarded memory, then wiped from the process's
  // environment (overwritten in place, so /proc/PID/environ no longer shows
  // it, and unset). Errors: kNotFound if unset; kInvalidArgument if weak.
  static Result<Keyring> FromEnv(const char* var = kSecretEnvVar);

  // Writes a new keyring file with one fresh 32-byte key, created with mode
  // 0600 (O_EXCL: never overwrites). Errors: kInvalidArgument if it exists.
  static Status GenerateFile(const std::string& path, int64_t now);
  // Rotation: appends a fresh key (id = max + 1) to the file and sets
  // retire_at = retire_old_at on older keys that have none (0 leaves
  // them); a file without [user_tag] gets one, holding the key it was
  // using, so the tag survives the later removal of its oldest key. The new
  // file is written beside the old one, read back and loaded as a keyring
  // before it replaces the old one (WriteFileDurably), under a lock that
  // serialises rotations. Returns the new key's id. Errors:
  // kInvalidArgument for retire_old_at outside 0..kMaxKeyringTime or now
  // outside 1..kMaxKeyringTime, ids exhausted; those of LoadFile.
  static Result<uint32_t> RotateFile(const std::string& path, int64_t now,
                                     int64_t retire_old_at);

  // Whether `secret` is strong enough to sign sessions. Refused: fewer than
  // kMinSecretBytes; one byte or a short pattern repeated; a counting
  // sequence; mostly well-known words ("SEEKRIT", "changeme", ...); fewer
  // than 8 distinct bytes; and anything zxcvbn (Dropbox's estimator, the C
  // port in Debian's libzxcvbn) guesses in fewer than 2^kMinSecretBits
  // tries: keyboard walks, dictionary words with digits and punctuation,
  // dates, names, repeats, l33t. 32 bytes from a CSPRNG pass, in any
  // encoding. Errors: kInvalidArgument naming the weakness and the fix.
  static Status CheckSecretStrength(std::string_view secret);
  static constexpr double kMinSecretBits = 128;

  // The key that signs new tokens at `now`: the highest id not retired.
  // nullptr if every key is retired.
  const Key* Current(int64_t now) const;
  // A key by id. Errors: kUnknownKey; kRetiredKey if retired at `now`.
  Result<const Key*> Find(uint32_t id, int64_t now) const;

  const std::vector<Key>& keys() const { return keys_; }

  // The key of the user tag that begins a logged-in session's id (UserTag
  // in session.h; it decides a user's Redis Cluster hash slot). Unlike the
  // keys above it never rotates: every sessiond sharing a store must tag a
  // user alike for as long as any session lives. From [user_tag] key in the
  // file, else HKDF of the lowest id's secret (so a keyring made from
  // SESSIOND_SECRET's value tags as the variable did).
  std::span<const uint8_t, kDerivedKeyBytes> user_tag_key() const {
    return std::span<const uint8_t, kDerivedKeyBytes>(
        secure_.data() + keys_.size() * kKeyPurposes * kDerivedKeyBytes,
        kDerivedKeyBytes);
  }
  // Whether user_tag_key() came from the file's [user_tag] (not derived).
  bool has_user_tag_entry() const { return has_user_tag_entry_; }

 private:
  Keyring() = default;

  std::vector<Key> keys_;  // sorted by id
  // Every key's derived keys, then the user tag key, in guarded memory.
  SecretBytes secure_;
  bool has_user_tag_entry_ = false;
};

// HKDF-SHA-256 (RFC 5869) with OpenSSL; exposed for tests and the CSRF key.
Status HkdfSha256(std::string_view ikm, std::string_view salt,
                  std::string_view info, uint8_t* out, size_t out_len);

}  // namespace sessiond
