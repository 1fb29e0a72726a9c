// RedisSeal (redis_seal.h holds the byte format): HMAC-SHA-256 with
// OpenSSL's one-shot HMAC over the context, compared in constant time.
#include "store/redis_seal.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <utility>

#include "sessiond/token_codec.h"  // ConstantTimeEquals

namespace sessiond {
namespace {

constexpr std::string_view kContext = "sessiond redis seal v1";
constexpr size_t kMacBytes = 32;

void PutU32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

uint32_t GetU32(std::string_view in) {
  return (uint32_t{static_cast<uint8_t>(in[0])} << 24) |
         (uint32_t{static_cast<uint8_t>(in[1])} << 16) |
         (uint32_t{static_cast<uint8_t>(in[2])} << 8) |
         uint32_t{static_cast<uint8_t>(in[3])};
}

void PutPrefixed(std::string& out, std::string_view v) {
  PutU32(out, static_cast<uint32_t>(v.size()));
  out.append(v);
}

Status Corrupt(std::string_view redis_key, std::string_view what) {
  // The key name carries a session id or a user id: not in messages
  // (status.h), so say which kind of key only.
  const size_t brace = redis_key.find("}:");
  const char kind =
      brace != std::string_view::npos && brace + 2 < redis_key.size()
          ? redis_key[brace + 2]
          : '?';
  return Status(Code::kCorrupt, "redis " + std::string(1, kind) +
                                    " record: " + std::string(what));
}

}  // namespace

RedisSeal::RedisSeal(KeyringSource keyring, const Clock* clock)
    : keyring_(std::move(keyring)), clock_(clock) {}

uint32_t RedisSeal::current_key_id() const {
  std::shared_ptr<const Keyring> ring = keyring_();
  const Keyring::Key* key =
      ring ? ring->Current(clock_->NowSeconds()) : nullptr;
  return key == nullptr ? 0 : key->id;
}

Result<std::string> RedisSeal::Mac(const Keyring::Key& key,
                                   std::string_view redis_key,
                                   std::string_view field,
                                   std::string_view payload) const {
  std::string context;
  context.reserve(kContext.size() + 8 + redis_key.size() + field.size() +
                  payload.size());
  context.append(kContext);
  PutPrefixed(context, redis_key);
  PutPrefixed(context, field);
  context.append(payload);
  const auto& k = key.derived[static_cast<size_t>(KeyPurpose::kRedisRecord)];
  std::array<unsigned char, kMacBytes> mac{};
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), k.data(), static_cast<int>(k.size()),
           reinterpret_cast<const unsigned char*>(context.data()),
           context.size(), mac.data(), &mac_len) == nullptr ||
      mac_len != kMacBytes) {
    return Status(Code::kInternal, "HMAC-SHA-256 failed");
  }
  return std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
}

Result<std::string> RedisSeal::Tag(std::string_view redis_key,
                                   std::string_view field,
                                   std::string_view payload) const {
  std::shared_ptr<const Keyring> ring = keyring_();
  const Keyring::Key* key =
      ring ? ring->Current(clock_->NowSeconds()) : nullptr;
  if (key == nullptr) {
    return Status(Code::kUnavailable,
                  "no live key to seal redis records with (every key in the "
                  "keyring is retired)");
  }
  Result<std::string> mac = Mac(*key, redis_key, field, payload);
  if (!mac.ok()) return mac.status();
  std::string tag;
  tag.reserve(kTagBytes);
  tag.push_back(static_cast<char>(kMagic));
  PutU32(tag, key->id);
  tag.append(*mac);
  return tag;
}

Result<std::string> RedisSeal::Seal(std::string_view redis_key,
                                    std::string_view field,
                                    std::string_view payload) const {
  Result<std::string> tag = Tag(redis_key, field, payload);
  if (!tag.ok()) return tag.status();
  tag->append(payload);
  return tag;
}

Result<uint32_t> RedisSeal::Check(std::string_view redis_key,
                                  std::string_view field,
                                  std::string_view payload,
                                  std::string_view tag) const {
  if (tag.size() < kTagBytes || !LooksSealed(tag)) {
    return Corrupt(redis_key, tag.empty() ? "no seal" : "not sealed");
  }
  const uint32_t key_id = GetU32(tag.substr(1, 4));
  std::shared_ptr<const Keyring> ring = keyring_();
  if (!ring) return Status(Code::kInternal, "redis seal: no keyring");
  Result<const Keyring::Key*> key = ring->Find(key_id, clock_->NowSeconds());
  if (!key.ok()) {
    return Corrupt(redis_key, "sealed with key " + std::to_string(key_id) +
                                  ", which is unknown or retired");
  }
  Result<std::string> mac = Mac(**key, redis_key, field, payload);
  if (!mac.ok()) return mac.status();
  if (!ConstantTimeEquals(*mac, tag.substr(5, kMacBytes))) {
    return Corrupt(redis_key, "seal does not match (altered or moved)");
  }
  return key_id;
}

Result<RedisSeal::Opened> RedisSeal::Open(std::string_view redis_key,
                                          std::string_view field,
                                          std::string_view sealed) const {
  if (sealed.size() < kTagBytes) {
    return Corrupt(redis_key,
                   LooksSealed(sealed) ? "seal truncated" : "not sealed");
  }
  std::string_view payload = sealed.substr(kTagBytes);
  Result<uint32_t> key_id =
      Check(redis_key, field, payload, sealed.substr(0, kTagBytes));
  if (!key_id.ok()) return key_id.status();
  return Opened{payload, *key_id};
}

Result<uint32_t> RedisSeal::Verify(std::string_view redis_key,
                                   std::string_view field,
                                   std::string_view payload,
                                   std::string_view tag) const {
  if (tag.size() != kTagBytes) {
    return Corrupt(redis_key, tag.empty() ? "no seal" : "seal truncated");
  }
  return Check(redis_key, field, payload, tag);
}

}  // namespace sessiond
