// RedisSeal: the MAC on what sessiond keeps in Redis, so that write access
// to Redis is not a way to forge or alter a session. Every session record
// (hybrid stubs included) and every last-seen refresh is sealed with the
// keyring's KeyPurpose::kRedisRecord key (HKDF, its own purpose: a sealed
// record says nothing about the signing or encryption keys) and bound to
// the Redis key and field it is stored under, so a sealed value cannot be
// moved to another session, user, field or key prefix either.
//
// Byte format (all integers big-endian):
//
//   sealed   := magic:u8(=0xA5) key_id:u32 mac:u8{32} payload
//   tag      := magic:u8(=0xA5) key_id:u32 mac:u8{32}
//   mac      := HMAC-SHA-256(K[key_id], "sessiond redis seal v1"
//                            lp(redis_key) lp(field) payload)
//   lp(x)    := length:u32 x
//
// `sealed` carries its payload (the session record of the `r` field);
// `tag` stands beside a payload that Lua must read as it is (the `ls`
// field's decimal last-seen, tagged in `lm`). The magic byte is none of
// session_codec's format bytes, so an unsealed record of an older layout
// is told apart (the layout migration seals those; a read refuses them).
//
// Keys: the newest live key seals; a value verifies while the key named
// by its key_id is in the keyring and not retired (Keyring::Find), like a
// token. Every write reseals with the newest key; RedisStore reseals a
// record sealed by an older key when it loads it.
//
// Thread: any; holds no mutable state (the keyring comes from the getter
// on every call).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "sessiond/clock.h"
#include "sessiond/keyring.h"
#include "sessiond/status.h"

namespace sessiond {

class RedisSeal {
 public:
  using KeyringSource = std::function<std::shared_ptr<const Keyring>()>;

  static constexpr uint8_t kMagic = 0xA5;
  static constexpr size_t kTagBytes = 1 + 4 + 32;

  // `keyring` must return a keyring (not null) on every call; `clock` must
  // outlive this.
  RedisSeal(KeyringSource keyring, const Clock* clock);

  // What Open found: the payload (a view into the sealed value) and the
  // key that sealed it.
  struct Opened {
    std::string_view payload;
    uint32_t key_id = 0;
  };

  // Seals `payload` for `field` of `redis_key` with the newest live key.
  // Errors: kUnavailable when no key is live (every key retired).
  Result<std::string> Seal(std::string_view redis_key, std::string_view field,
                           std::string_view payload) const;
  // The tag alone, for a payload stored as it is beside it.
  Result<std::string> Tag(std::string_view redis_key, std::string_view field,
                          std::string_view payload) const;

  // Checks a sealed value. Errors (kCorrupt, the message saying which):
  // not sealed (an unsealed or foreign value), truncated, sealed by a key
  // that is unknown or retired, MAC mismatch (altered, or moved from
  // another key or field).
  Result<Opened> Open(std::string_view redis_key, std::string_view field,
                      std::string_view sealed) const;
  // Checks a tag over `payload`; errors as Open. Returns the key id.
  Result<uint32_t> Verify(std::string_view redis_key, std::string_view field,
                          std::string_view payload, std::string_view tag) const;

  // The id of the key that seals now (0 when none is live).
  uint32_t current_key_id() const;

  // Whether `value` starts like a sealed value (no MAC check).
  static bool LooksSealed(std::string_view value) {
    return !value.empty() && static_cast<uint8_t>(value[0]) == kMagic;
  }

 private:
  Result<std::string> Mac(const Keyring::Key& key, std::string_view redis_key,
                          std::string_view field,
                          std::string_view payload) const;
  Result<uint32_t> Check(std::string_view redis_key, std::string_view field,
                         std::string_view payload, std::string_view tag) const;

  KeyringSource keyring_;
  const Clock* clock_;
};

}  // namespace sessiond
