// The layout marker (redis_layout.h): its value, and the verdict a store
// draws from the one it finds.
#include "store/redis_layout.h"

#include <openssl/evp.h>

#include <array>
#include <charconv>

#include "sessiond/session.h"
#include "sessiond/token_codec.h"  // Base64UrlEncode

namespace sessiond {
namespace {

// A name no user id can be (ValidateUserId refuses spaces), so its tag is
// the key's fingerprint and nobody's slot.
constexpr std::string_view kFingerprintUser = "sessiond layout fingerprint";

std::string Fingerprint() { return UserTag(kFingerprintUser); }

}  // namespace

std::string UnkeyedUserTag(std::string_view user_id) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_Digest(user_id.data(), user_id.size(), digest.data(), &len,
                 EVP_sha256(), nullptr) != 1) {
    return std::string();
  }
  return Base64UrlEncode(std::string_view(
                             reinterpret_cast<const char*>(digest.data()), len))
      .substr(0, kSessionTagChars);
}

std::string RedisLayoutMarker() {
  return std::to_string(kRedisLayout) + " " + Fingerprint();
}

RedisLayoutVerdict JudgeRedisLayoutMarker(
    const std::optional<std::string_view>& marker) {
  if (!marker) return RedisLayoutVerdict::kMigrate;
  const std::string_view v = *marker;
  const size_t space = v.find(' ');
  const std::string_view number = v.substr(0, space);
  int64_t layout = 0;
  auto [ptr, ec] =
      std::from_chars(number.data(), number.data() + number.size(), layout);
  if (number.empty() || ec != std::errc() ||
      ptr != number.data() + number.size() || layout < 2) {
    return RedisLayoutVerdict::kBad;
  }
  if (layout > kRedisLayout) return RedisLayoutVerdict::kNewer;
  // A marker without a fingerprint was written before it carried one,
  // with the unkeyed tag.
  // A std::string: the unkeyed tag is a temporary, which a string_view
  // would outlive.
  const std::string fingerprint = space == std::string_view::npos
                                      ? UnkeyedUserTag(kFingerprintUser)
                                      : std::string(v.substr(space + 1));
  if (fingerprint == Fingerprint()) return RedisLayoutVerdict::kReady;
  if (fingerprint == UnkeyedUserTag(kFingerprintUser)) {
    return RedisLayoutVerdict::kRetag;
  }
  return RedisLayoutVerdict::kOtherTag;
}

std::string RedisLayoutRefusal(RedisLayoutVerdict verdict,
                               std::string_view marker_key,
                               std::string_view marker) {
  const std::string says = "redis key " + std::string(marker_key) + " says '" +
                           std::string(marker) + "'";
  switch (verdict) {
    case RedisLayoutVerdict::kNewer:
      return says + ": a layout newer than this sessiond's (" +
             std::to_string(kRedisLayout) +
             "), written by a newer sessiond; upgrade this one";
    case RedisLayoutVerdict::kOtherTag:
      return says +
             ": its keys were written with another user tag key (this "
             "sessiond's fingerprint is " +
             Fingerprint() +
             "); every sessiond sharing a Redis needs the same keyring";
    case RedisLayoutVerdict::kBad:
      return says + ", which is not a layout marker";
    default:
      return says;
  }
}

}  // namespace sessiond
