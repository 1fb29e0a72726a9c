// HMAC-SHA-256 (RFC 2104) from a keyed state: the two SHA-256 states left
// after hashing the key's inner and outer pads. Keying once and copying the
// state per MAC saves two of the four compressions a short message costs.
//
// Why not OpenSSL's HMAC or EVP_MAC: their contexts are heap objects (the
// keyed state would sit in OpenSSL's ordinary heap, outside sessiond's
// locked, dump-excluded memory) and restarting or duplicating one
// allocates. libsodium's HMAC has a flat state but no SHA extensions: on
// it, verifying a server token took 3.25x a bare OpenSSL HMAC, on this
// 1.08x (bench/token_bench, docs/benchmarks.md). This keeps a flat state
// (the caller stores it in SecretBytes) on OpenSSL's SHA-256, which uses
// the CPU's SHA instructions where present.
#ifndef SESSIOND_CORE_HMAC_SHA256_H_
#define SESSIOND_CORE_HMAC_SHA256_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sessiond {

// Size of a keyed state (two SHA256_CTX; checked in hmac_sha256.cc).
inline constexpr size_t kHmacSha256StateBytes = 224;

// Writes the keyed state for `key` (any length) to `state`; the state is
// key material.
void HmacSha256KeyState(std::string_view key, uint8_t* state);

// HMAC-SHA-256 of `data` under a keyed state; wipes its working copies.
void HmacSha256WithState(const uint8_t* state, std::string_view data,
                         uint8_t out[32]);

}  // namespace sessiond

#endif  // SESSIOND_CORE_HMAC_SHA256_H_
