// The Redis store's layout marker, "<prefix>:layout": which layout the
// keys are in, and with which user tag they were written, so that a store
// knows at start whether it may serve, must migrate first, or must refuse.
// Shared by RedisStore (which migrates) and ProbeRedis (which refuses at
// start). docs/storage.md, "Layout versions", says what each layout holds.
//
// Marker value:  "<layout> <fingerprint>"   e.g. "2 Xk3f0aZQ"
//   fingerprint = UserTag(kFingerprintUser): 8 characters that tell which
//   user tag the keys were written with without revealing its key (a MAC
//   of a fixed name, when the tag is keyed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sessiond {

// The key layout this code reads and writes. 1: the layout before the
// marker (epochs as strings P:{T}:e:<user>, records unsealed).
inline constexpr int kRedisLayout = 2;

// The marker this sessiond writes.
std::string RedisLayoutMarker();

// The user tag sessiond 0.1 wrote (unkeyed: SHA-256 of the user id, as
// base64url, 8 characters), for finding the keys it wrote once the tag is
// keyed (UserTag). Pure; thread-safe.
std::string UnkeyedUserTag(std::string_view user_id);

// What a store must do about the marker it found (nullopt: no marker).
enum class RedisLayoutVerdict {
  kReady,     // this layout, this user tag
  kMigrate,   // no marker: layout 1; migrate (and re-tag) once
  kRetag,     // this layout, written with the unkeyed tag: re-tag once
  kNewer,     // a newer layout: refuse (a newer sessiond wrote it)
  kOtherTag,  // written with another user tag key: refuse (every sessiond
              // sharing a Redis needs the same keyring)
  kBad,       // not a marker: refuse
};
RedisLayoutVerdict JudgeRedisLayoutMarker(
    const std::optional<std::string_view>& marker);

// The message for a refusing verdict, naming the key, what it holds and
// what to do.
std::string RedisLayoutRefusal(RedisLayoutVerdict verdict,
                               std::string_view marker_key,
                               std::string_view marker);

}  // namespace sessiond
