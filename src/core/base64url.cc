// base64url without padding (RFC 4648 section 5) for cookie values, and the
// two small crypto helpers the tests and benchmarks share (one-shot
// HMAC-SHA-256, constant-time equality). libsodium encodes; the decoder is
// our own (see Base64UrlDecode for why).
#include <openssl/crypto.h>
#include <sodium.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "hmac_sha256.h"
#include "sessiond/token_codec.h"

namespace sessiond {

namespace {
constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

// Each byte's 6-bit value, or kInvalid for bytes outside the alphabet.
constexpr uint8_t kInvalid = 0x80;
constexpr std::array<uint8_t, 256> kDecodeTable = [] {
  std::array<uint8_t, 256> t{};
  t.fill(kInvalid);
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<uint8_t>(i);
  }
  return t;
}();
}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  const size_t encoded_len = sodium_base64_ENCODED_LEN(bytes.size(), kVariant);
  std::string out(encoded_len, '\0');  // includes libsodium's trailing NUL
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), kVariant);
  out.resize(encoded_len - 1);
  return out;
}

// Written by hand, on purpose. Every request's cookie goes through here, and
// under callgrind libsodium 1.0.18's decoder (constant-time per character)
// cost about 10,000 instructions per cookie, more than the HMAC that follows
// it (docs/benchmarks.md); it also decodes bytes >= 0x80 as letters (found by
// fuzz/token_decoder_fuzz). OpenSSL's EVP_DecodeBlock knows only the padded
// standard alphabet and skips whitespace. A table lookup per character is
// not a timing leak worth avoiding here: the cookie is the sender's own, and
// the store lookup that follows is data-dependent anyway.
//
// Strict: every character must be in the alphabet, no padding, and the
// unused low bits of the last character must be zero, so each byte string
// has exactly one accepted encoding.
Result<size_t> Base64UrlDecodeInto(std::string_view text,
                                   std::span<uint8_t> out) {
  const size_t full = text.size() / 4;
  const size_t rem = text.size() % 4;
  if (rem == 1) {
    return Status(Code::kBadEncoding, "base64url: impossible length");
  }
  const size_t decoded_len = full * 3 + (rem == 0 ? 0 : rem - 1);
  if (decoded_len > out.size()) {
    return Status(Code::kTooLarge, "base64url: longer than its buffer");
  }
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  uint8_t* o = out.data();
  uint8_t bad = 0;  // collects kInvalid from any character
  for (size_t g = 0; g < full; ++g, in += 4, o += 3) {
    const uint8_t a = kDecodeTable[in[0]], b = kDecodeTable[in[1]],
                  c = kDecodeTable[in[2]], d = kDecodeTable[in[3]];
    bad |= a | b | c | d;
    const uint32_t v = (uint32_t{a} << 18) | (uint32_t{b} << 12) |
                       (uint32_t{c} << 6) | d;
    o[0] = static_cast<unsigned char>(v >> 16);
    o[1] = static_cast<unsigned char>(v >> 8);
    o[2] = static_cast<unsigned char>(v);
  }
  uint8_t leftover = 0;  // bits that must be zero in a canonical encoding
  if (rem == 2) {
    const uint8_t a = kDecodeTable[in[0]], b = kDecodeTable[in[1]];
    bad |= a | b;
    o[0] = static_cast<unsigned char>((a << 2) | ((b & 0x3f) >> 4));
    leftover = b & 0x0f;
  } else if (rem == 3) {
    const uint8_t a = kDecodeTable[in[0]], b = kDecodeTable[in[1]],
                  c = kDecodeTable[in[2]];
    bad |= a | b | c;
    const uint32_t v = (uint32_t{a} << 12) | (uint32_t{b} << 6) | c;
    o[0] = static_cast<unsigned char>(v >> 10);
    o[1] = static_cast<unsigned char>(v >> 2);
    leftover = c & 0x03;
  }
  if (bad & kInvalid) return Status(Code::kBadEncoding, "not base64url");
  if (leftover != 0) {
    return Status(Code::kBadEncoding, "not canonical base64url");
  }
  return decoded_len;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  std::string out(text.size() / 4 * 3 + 2, '\0');
  Result<size_t> n = Base64UrlDecodeInto(
      text, std::span(reinterpret_cast<uint8_t*>(out.data()), out.size()));
  if (!n.ok()) return n.status();
  out.resize(*n);
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  // The codec's own construction (hmac_sha256.h), so the RFC 4231 vectors
  // in hmac_test.cc check what signs every server token.
  uint8_t state[kHmacSha256StateBytes];
  HmacSha256KeyState(key, state);
  std::string mac(32, '\0');
  HmacSha256WithState(state, data, reinterpret_cast<uint8_t*>(mac.data()));
  OPENSSL_cleanse(state, sizeof state);
  return mac;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Lengths are public (a MAC or tag has a fixed size); only the contents
  // must not leak through timing.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace sessiond
