// The OpenSSL primitives the old frameworks' cookies are built from (HMAC
// over SHA-1/256/512, plain digests, PBKDF2-HMAC-SHA1, AES-256-GCM and
// AES-256-CBC), each one call, with OpenSSL's errors turned into a Status
// or a nullopt here and nowhere else. Stateless; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sessiond/status.h"

namespace sessiond::legacy_detail {

enum class Digest { kSha1, kSha256, kSha512 };

// Output size in bytes (20, 32, 64).
size_t DigestSize(Digest d);
std::string Hash(Digest d, std::string_view data);
std::string Hmac(Digest d, std::string_view key, std::string_view data);
// Compares in time independent of where the inputs differ (CRYPTO_memcmp);
// different lengths are unequal at once (lengths are public).
bool ConstantTimeEqual(std::string_view a, std::string_view b);

// PBKDF2 with HMAC-SHA1 (RFC 8018), what ActiveSupport::KeyGenerator of
// Rails 6.1 calls (OpenSSL::PKCS5.pbkdf2_hmac_sha1).
std::string Pbkdf2HmacSha1(std::string_view secret, std::string_view salt,
                           int iterations, size_t key_len);

// AES-256-GCM with empty associated data and a 16-byte tag. Open returns
// the plaintext, or nullopt when the tag does not verify. key: 32 bytes.
std::optional<std::string> AesGcmOpen(std::string_view key,
                                      std::string_view iv,
                                      std::string_view ciphertext,
                                      std::string_view tag);
struct Sealed {
  std::string ciphertext;
  std::string tag;
};
Result<Sealed> AesGcmSeal(std::string_view key, std::string_view iv,
                          std::string_view plaintext);

// AES-256-CBC with PKCS#7 padding (the pre-5.2 Rails cookie cipher). Decrypt
// returns nullopt when the padding is wrong. key 32 bytes, iv 16 bytes.
std::optional<std::string> AesCbcDecrypt(std::string_view key,
                                         std::string_view iv,
                                         std::string_view ciphertext);
Result<std::string> AesCbcEncrypt(std::string_view key, std::string_view iv,
                                  std::string_view plaintext);

// Lowercase hexadecimal.
std::string HexLower(std::string_view bytes);

}  // namespace sessiond::legacy_detail
