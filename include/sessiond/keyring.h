// Keyring: the server's secrets. The newest live key signs and encrypts;
// every key verifies until its retire time, so a rotation logs nobody out.
// Per-purpose keys are derived from each secret with HKDF-SHA-256, so
// signing, encryption and CSRF never share a key.
//
// Secrets come from a keyring file (mode 0600, refused if group or others
// can read it) or from an environment variable; never from argv, and never
// into a log (no method here returns or prints secret bytes except Derived).
//
// Keyring file format (TOML):
//   [[key]]
//   id = 1                                  # 1 .. 2^32-1, unique
//   secret = "<base64url, >= 32 bytes>"
//   created = 2026-11-26T10:00:00Z          # optional
//   retire = 2027-01-01T00:00:00Z           # optional: stops verifying then
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sessiond/status.h"

namespace sessiond {

inline constexpr size_t kMinSecretBytes = 32;
inline constexpr char kSecretEnvVar[] = "SESSIOND_SECRET";

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
  std::string secret;      // raw bytes
  int64_t created_at = 0;  // unix seconds, 0 = unknown
  int64_t retire_at = 0;   // unix seconds, 0 = never
};

// An immutable set of keys. Thread-safe to read from any thread once built;
// reload by building a new Keyring and swapping a shared_ptr.
class Keyring {
 public:
  struct Key {
    uint32_t id = 0;
    int64_t created_at = 0;
    int64_t retire_at = 0;
    std::array<std::array<uint8_t, 32>, kKeyPurposes> derived{};  // by KeyPurpose
  };

  // Builds from specs. Errors: kInvalidArgument for no keys, a duplicate id,
  // id 0, or a weak secret (see CheckSecretStrength).
  static Result<Keyring> FromSpecs(std::vector<KeySpec> specs);
  // Loads a keyring file. Errors: kPermissionDenied if group or others may
  // read it; kNotFound if missing; kInvalidArgument for bad TOML or keys.
  static Result<Keyring> LoadFile(const std::string& path);
  // One key (id 1) whose secret is the raw value of the variable.
  // Errors: kNotFound if unset; kInvalidArgument if weak.
  static Result<Keyring> FromEnv(const char* var = kSecretEnvVar);

  // Writes a new keyring file with one fresh 32-byte key, created with mode
  // 0600 (O_EXCL: never overwrites). Errors: kInvalidArgument if it exists.
  static Status GenerateFile(const std::string& path, int64_t now);
  // Rotation: appends a fresh key (id = max + 1) to the file, atomically
  // (write temp 0600, fsync, rename), and sets retire_at = retire_old_at on
  // older keys that have none (0 leaves them). Returns the new key's id.
  static Result<uint32_t> RotateFile(const std::string& path, int64_t now,
                                     int64_t retire_old_at);

  // Refuses fewer than kMinSecretBytes, one byte repeated, a short pattern
  // repeated, and known-weak values ("SEEKRIT", "secret", "changeme", ...).
  static Status CheckSecretStrength(std::string_view secret);

  // The key that signs new tokens at `now`: the highest id not retired.
  // nullptr if every key is retired.
  const Key* Current(int64_t now) const;
  // A key by id. Errors: kUnknownKey; kRetiredKey if retired at `now`.
  Result<const Key*> Find(uint32_t id, int64_t now) const;

  const std::vector<Key>& keys() const { return keys_; }

 private:
  std::vector<Key> keys_;  // sorted by id
};

// HKDF-SHA-256 (RFC 5869) with OpenSSL; exposed for tests and the CSRF key.
Status HkdfSha256(std::string_view ikm, std::string_view salt,
                  std::string_view info, uint8_t* out, size_t out_len);

}  // namespace sessiond
