#include "hmac_sha256.h"

// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP,
// whose contexts are opaque heap objects (see the header for why a flat
// state is needed here); the functions remain supported in 3.x.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cstring>

namespace sessiond {
namespace {

constexpr size_t kBlock = SHA256_CBLOCK;  // 64
static_assert(kHmacSha256StateBytes == 2 * sizeof(SHA256_CTX));

// Copies `state` to the stack, hashes `data` into it, writes the digest and
// wipes the copy.
void Finish(const uint8_t* state, const void* data, size_t n,
            uint8_t out[SHA256_DIGEST_LENGTH]) {
  SHA256_CTX ctx;
  std::memcpy(&ctx, state, sizeof ctx);
  SHA256_Update(&ctx, data, n);
  SHA256_Final(out, &ctx);
  OPENSSL_cleanse(&ctx, sizeof ctx);
}

}  // namespace

void HmacSha256KeyState(std::string_view key, uint8_t* state) {
  uint8_t block[kBlock] = {};
  if (key.size() > kBlock) {
    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(),
           block);
  } else if (!key.empty()) {
    std::memcpy(block, key.data(), key.size());
  }
  uint8_t pad[kBlock];
  SHA256_CTX ctx;
  for (int half = 0; half < 2; ++half) {
    const uint8_t x = half == 0 ? 0x36 : 0x5c;  // ipad, opad
    for (size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ x;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, pad, kBlock);
    std::memcpy(state + half * sizeof ctx, &ctx, sizeof ctx);
  }
  OPENSSL_cleanse(&ctx, sizeof ctx);
  OPENSSL_cleanse(pad, sizeof pad);
  OPENSSL_cleanse(block, sizeof block);
}

void HmacSha256WithState(const uint8_t* state, std::string_view data,
                         uint8_t out[32]) {
  uint8_t inner[SHA256_DIGEST_LENGTH];
  Finish(state, data.data(), data.size(), inner);
  Finish(state + sizeof(SHA256_CTX), inner, sizeof inner, out);
  OPENSSL_cleanse(inner, sizeof inner);
}

}  // namespace sessiond
